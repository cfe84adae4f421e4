"""Password guessing is slowed per account: failures lock a name on every password check."""

from __future__ import annotations

import json
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from tests.helpers import (
    QUERY_SITE,
    authorised_client,
    build_app,
    commit,
    make_repo,
    write_files,
)
from vellum.auth import oauth, users
from vellum.cli.main import cli

PASSWORD = "correct horse"


def state_of(application):
    return application.extensions["vellum"].state


def site_with(tmp_path, auth: str):
    """A repository with the query fixture whose `auth:` section is this."""
    repo = make_repo(tmp_path / "custom")
    files = dict(QUERY_SITE)
    files["vellum.yml"] = files["vellum.yml"].replace("auth:\n  public_read: true\n", auth)
    write_files(repo, files)
    commit(repo, "Site")
    return repo


@pytest.fixture
def strict(tmp_path):
    """An app that locks a name after 3 failures within a minute, with the admin `ada`."""
    repo = site_with(tmp_path, "auth:\n  public_read: true\n  lockout: {attempts: 3, minutes: 1}\n")
    application = build_app(repo, tmp_path / "state")
    users.create_user(state_of(application), "ada", PASSWORD, "admin", "ada@example.com")
    yield application
    application.extensions["vellum"].close()


def login(client, name: str, password: str, ip: str = "127.0.0.1"):
    body = {"username": name, "password": password}
    return client.post("/api/auth/login", json=body, environ_base={"REMOTE_ADDR": ip})


def age_failures(application, seconds: float) -> None:
    """Move every recorded failure `seconds` into the past, as if time had passed."""
    with state_of(application).transaction() as db:
        db.execute("UPDATE sign_in_failures SET at = at - ?", (seconds,))


def csrf_of(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def test_ten_failures_lock_the_account_from_any_address_even_for_the_right_password(app, anonymous):
    users.create_user(state_of(app), "ada", PASSWORD, "admin")
    users.create_user(state_of(app), "bo", PASSWORD, "viewer")
    for n in range(10):
        wrong = login(anonymous, "ada", f"guess {n}", ip=f"203.0.113.{n}")
        assert wrong.status_code == 401, n
    locked = login(anonymous, "ada", PASSWORD, ip="198.51.100.7")
    assert locked.status_code == 429
    error = locked.get_json()["error"]
    assert error["code"] == "RATE_LIMITED" and error["details"] == []
    assert error["message"] == "Too many failed sign-ins for this account; try again in 15 minutes"
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60
    # Only that account: another user signs in, from the very same address.
    assert login(anonymous, "bo", PASSWORD, ip="203.0.113.9").status_code == 200
    # Once the failures are older than the window, the right password works again.
    age_failures(app, 15 * 60 + 1)
    assert login(anonymous, "ada", PASSWORD).status_code == 200


def test_an_unknown_name_gets_the_same_answers(strict):
    client = strict.test_client()
    answers = {}
    for name in ("ada", "nobody"):
        seen = [login(client, name, "a wrong guess") for _ in range(4)]
        # The same answers, but for the countdown, which may tick between the two names.
        answers[name] = [(r.status_code, re.sub(r"\d+", "N", r.get_data(True))) for r in seen]
        assert int(seen[-1].headers["Retry-After"]) <= 60
    assert answers["ada"] == answers["nobody"]
    assert [status for status, _ in answers["ada"]] == [401, 401, 401, 429]


def test_every_password_check_shares_one_count(strict):
    """Failures anywhere lock the sign-in everywhere: the JSON API, the OAuth password
    grant, the admin page and the OAuth login page, each in its own way of saying so."""
    client = strict.test_client()
    app_client, secret = oauth.create_client(
        state_of(strict), "CLI tool", ["read"], grants=["password"]
    )
    auth = (app_client.id, secret)
    grant = {"grant_type": "password", "username": "ada"}
    first = client.post("/oauth/token", data={**grant, "password": "guess one"}, auth=auth)
    assert first.status_code == 400
    sign_in = strict.test_client()
    form = {"csrf_token": csrf_of(sign_in.get("/admin/sign-in")), "name": "ada"}
    assert sign_in.post("/admin/sign-in", data={**form, "password": "guess two"}).status_code == 401
    assert login(client, "ada", "guess three").status_code == 401

    token = client.post("/oauth/token", data={**grant, "password": PASSWORD}, auth=auth)
    assert token.status_code == 429 and int(token.headers["Retry-After"]) <= 60
    assert token.headers["Cache-Control"] == "no-store"
    said = token.get_json()
    assert said["error"] == "invalid_grant" and set(said) == {"error", "error_description"}
    assert re.fullmatch(
        r"Too many failed sign-ins for this account; try again in \d\d? seconds",
        said["error_description"],
    )
    page = sign_in.post("/admin/sign-in", data={**form, "password": PASSWORD})
    assert page.status_code == 429 and int(page.headers["Retry-After"]) <= 60
    assert "Too many failed sign-ins for this account" in page.get_data(as_text=True)
    assert sign_in.get("/admin/keys").status_code == 302  # not signed in

    public, _ = oauth.create_client(
        state_of(strict), "Editor", ["read"], ["https://app.example.com/cb"], public=True
    )
    query = {
        "response_type": "code",
        "client_id": public.id,
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    url = "/oauth/authorize?" + urlencode(query)
    browser = strict.test_client()
    shown = browser.get(url)
    answer = browser.post(
        url,
        data={
            "action": "sign_in",
            "username": "ada",
            "password": PASSWORD,
            "csrf_token": csrf_of(shown),
        },
    )
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) <= 60
    assert "Too many failed sign-ins for this account" in answer.get_data(as_text=True)
    assert answer.headers["X-Frame-Options"] == "DENY"


def test_parallel_guesses_get_no_more_checks_than_the_limit(strict):
    start = threading.Barrier(12)

    def guess(n: int) -> int:
        client = strict.test_client()
        start.wait(timeout=10)
        return login(client, "ada", f"guess {n}", ip=f"203.0.113.{n}").status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = sorted(pool.map(guess, range(12)))
    assert statuses == [401] * 3 + [429] * 9


def test_a_successful_sign_in_is_not_a_failure(strict):
    client = strict.test_client()
    assert login(client, "ada", "a wrong guess").status_code == 401
    for _ in range(3):
        assert login(client, "ada", PASSWORD).status_code == 200
    assert login(client, "ada", "a wrong guess").status_code == 401
    assert login(client, "ada", PASSWORD).status_code == 200  # two failures of three


def test_failures_are_logged_and_shown_with_the_user(strict, caplog, runner):
    client = strict.test_client()
    with caplog.at_level(logging.INFO, logger="vellum"):
        for n in range(4):
            login(client, "ada", f"guess {n}", ip="203.0.113.5")
    said = [r.getMessage() for r in caplog.records]
    assert "Failed sign-in for 'ada' from 203.0.113.5: 1 within 1 minutes" in said
    assert "Sign-ins for 'ada' are locked: 3 failures within 1 minutes" in said
    assert "Refused a sign-in for locked name 'ada' from 203.0.113.5" in said

    (ada,) = users.with_failures(
        state_of(strict), users.list_users(state_of(strict)), users.Lockout(3, 1)
    )
    failed = ada.as_dict()["failedSignIns"]
    assert (failed["count"], failed["lastIp"]) == (3, "203.0.113.5")
    assert failed["lastAt"].endswith("Z") and failed["lockedUntil"] > failed["lastAt"]

    # The API, the admin page and the CLI show it.
    api = authorised_client(strict, ["admin"])
    assert api.get("/api/users").get_json()["data"][0]["failedSignIns"] == failed
    assert api.get("/api/users/ada").get_json()["data"]["failedSignIns"] == failed
    users.create_user(state_of(strict), "root", PASSWORD, "admin")
    admin = strict.test_client()
    form = {"csrf_token": csrf_of(admin.get("/admin/sign-in")), "name": "root"}
    assert admin.post("/admin/sign-in", data={**form, "password": PASSWORD}).status_code == 303
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "3 (last " in page and "from 203.0.113.5)" in page and "locked until" in page

    services = strict.extensions["vellum"]
    command = ["--site", str(services.site.root), "users", "list"]
    env = {"VELLUM_STATE_DIR": str(services.state_dir)}
    listed = runner.invoke(cli, command, env=env)
    assert listed.exit_code == 0, listed.output
    ada_line = listed.output.splitlines()[0]
    assert ada_line.startswith("1\tada\tadmin\tada@example.com\t3 failed sign-ins (last ")
    assert "from 203.0.113.5); locked until " in ada_line
    as_json = runner.invoke(cli, [*command, "--json"], env=env)
    assert json.loads(as_json.output)["data"][0]["failedSignIns"] == failed


@pytest.mark.parametrize(
    ("lockout", "problem"),
    [
        ("{attempts: 0}", "auth.lockout.attempts must be a positive integer"),
        ("{attempts: many}", "auth.lockout.attempts must be a positive integer"),
        ("{minutes: -1}", "auth.lockout.minutes must be a positive number"),
        ("{minute: 5}", "auth.lockout: unknown key 'minute' (did you mean 'minutes'?)"),
        ("10", "auth.lockout must be a mapping of attempts and minutes"),
    ],
)
def test_wrong_lockout_settings_are_reported(tmp_path, runner, lockout, problem):
    repo = site_with(tmp_path, f"auth:\n  lockout: {lockout}\n")
    result = runner.invoke(cli, ["--site", str(repo), "validate"])
    assert result.exit_code == 1
    assert f"vellum.yml:3: {problem}" in result.output.splitlines()


def test_a_name_signs_in_and_locks_whatever_its_case(app, anonymous):
    """Names are unique whatever their case: the sign-in finds the user, and the failures of
    `ADA` and `Ada` count against one account, so case cannot multiply the guesses."""
    users.create_user(state_of(app), "Ada", PASSWORD, "admin")
    assert login(anonymous, "ada", PASSWORD).status_code == 200
    for n, name in enumerate(["ada", "ADA", "Ada", "aDa", "adA"] * 2):
        assert login(anonymous, name, f"guess {n}").status_code == 401, n
    assert login(anonymous, "ADA", PASSWORD).status_code == 429
    listed = anonymous.application.extensions["vellum"]
    shown = users.with_failures(listed.state, users.list_users(listed.state), listed.lockout)
    assert shown[0].failures.count == 10
