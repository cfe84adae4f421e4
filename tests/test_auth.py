"""Who may do what: JWTs, API keys, scopes, drafts, rate limits and body size, for real."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token

from tests.helpers import QUERY_SITE, build_app, commit, make_repo, write_files
from vellum.auth import keys, users
from vellum.settings_check import settings_problems
from vellum.site.site import load_site
from vellum.store.state import StateStore


def state_of(application):
    return application.extensions["vellum"].state


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(app):
    return users.create_user(state_of(app), "ada", "correct horse", "admin", "ada@example.com")


def login(client, name="ada", password="correct horse"):
    return client.post("/api/auth/login", json={"username": name, "password": password})


def site_with(tmp_path, extra: str):
    """A repository with the query fixture plus extra top-level vellum.yml settings."""
    repo = make_repo(tmp_path / "custom")
    files = dict(QUERY_SITE)
    files["vellum.yml"] = files["vellum.yml"].replace("auth:\n  public_read: true\n", extra)
    write_files(repo, files)
    commit(repo, "Site")
    return repo


# -- JWT -------------------------------------------------------------------------------
def test_login_refresh_and_logout(app, admin, anonymous):
    signed = login(anonymous).get_json()["data"]
    assert signed["tokenType"] == "Bearer" and signed["expiresIn"] == 900
    assert signed["user"]["name"] == "ada" and "password" not in json.dumps(signed)
    assert anonymous.get("/api/users", headers=bearer(signed["accessToken"])).status_code == 200
    renewed = anonymous.post("/api/auth/refresh", headers=bearer(signed["refreshToken"]))
    fresh = renewed.get_json()["data"]["accessToken"]
    assert anonymous.get("/api/auth/me", headers=bearer(fresh)).get_json()["data"]["name"] == "ada"
    out = anonymous.post("/api/auth/logout", headers=bearer(fresh))
    assert out.status_code == 200
    after = anonymous.get("/api/users", headers=bearer(fresh))
    assert after.status_code == 401 and "revoked" in after.get_json()["error"]["message"]
    # An access token is not a refresh token, and the other way round.
    assert anonymous.post("/api/auth/refresh", headers=bearer(fresh)).status_code == 401
    assert anonymous.get("/api/users", headers=bearer(signed["refreshToken"])).status_code == 401


def test_refresh_tokens_rotate_and_a_reused_one_revokes_its_family(app, admin, anonymous):
    signed = login(anonymous).get_json()["data"]
    first = anonymous.post("/api/auth/refresh", headers=bearer(signed["refreshToken"]))
    assert first.status_code == 200
    renewed = first.get_json()["data"]
    assert renewed["refreshToken"] != signed["refreshToken"]
    assert anonymous.get("/api/auth/me", headers=bearer(renewed["accessToken"])).status_code == 200
    # The newest refresh token works once more, in the body too.
    second = anonymous.post("/api/auth/refresh", json={"refreshToken": renewed["refreshToken"]})
    newest = second.get_json()["data"]
    # Someone presents a spent refresh token: it leaked, so every token of the sign-in dies.
    reused = anonymous.post("/api/auth/refresh", headers=bearer(signed["refreshToken"]))
    assert reused.status_code == 401 and "already used" in reused.get_json()["error"]["message"]
    for token in (signed["accessToken"], renewed["accessToken"], newest["accessToken"]):
        assert anonymous.get("/api/auth/me", headers=bearer(token)).status_code == 401
    assert (
        anonymous.post("/api/auth/refresh", headers=bearer(newest["refreshToken"])).status_code
        == 401
    )
    # Another sign-in of the same user is a family of its own, untouched.
    other = login(anonymous).get_json()["data"]
    assert anonymous.get("/api/auth/me", headers=bearer(other["accessToken"])).status_code == 200
    again = anonymous.post("/api/auth/refresh", headers=bearer(other["refreshToken"]))
    assert again.status_code == 200


def test_a_refresh_token_spent_by_two_requests_at_once_works_for_one(app, admin, anonymous):
    refresh_token = login(anonymous).get_json()["data"]["refreshToken"]
    start = threading.Barrier(6)

    def spend(_) -> int:
        client = app.test_client()
        start.wait(timeout=10)
        return client.post("/api/auth/refresh", headers=bearer(refresh_token)).status_code

    with ThreadPoolExecutor(6) as pool:
        assert sorted(pool.map(spend, range(6))) == [200, 401, 401, 401, 401, 401]


def test_wrong_password_and_unknown_user(anonymous, admin):
    for name, password in (("ada", "wrong"), ("nobody", "correct horse")):
        response = login(anonymous, name, password)
        assert response.status_code == 401
        assert response.get_json()["error"]["message"] == "Wrong user name or password"


def test_revocation_survives_a_restart(query_repo, tmp_path):
    first = build_app(query_repo, tmp_path / "state")
    users.create_user(state_of(first), "ada", "correct horse", "admin")
    token = login(first.test_client()).get_json()["data"]["accessToken"]
    first.test_client().post("/api/auth/logout", headers=bearer(token))
    first.extensions["vellum"].close()
    second = build_app(query_repo, tmp_path / "state")
    response = second.test_client().get("/api/users", headers=bearer(token))
    assert response.status_code == 401
    second.extensions["vellum"].close()


def forged_tokens(app, admin) -> dict[str, str]:
    with app.app_context():
        good = create_access_token(str(admin.id), additional_claims={"scopes": ["admin"]})
        expired = create_access_token(
            str(admin.id),
            additional_claims={"scopes": ["admin"]},
            expires_delta=dt.timedelta(seconds=-5),
        )
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scopes"] = ["admin", "write"]
    tampered_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    other = pyjwt.encode(
        {**claims, "exp": int(time.time()) + 600},
        "a-different-secret-that-is-long-enough-0123456789",
        "HS256",
    )
    return {
        "expired": expired,
        "tampered": f"{header}.{tampered_payload}.{signature}",
        "alg none": f"{none_header}.{payload}.",
        "wrong secret": other,
        "garbage": "abc.def",
    }


def test_bad_tokens_are_401(app, admin, anonymous):
    for name, token in forged_tokens(app, admin).items():
        response = anonymous.get("/api/post", headers=bearer(token))
        assert response.status_code == 401, name
        assert response.get_json()["error"]["code"] == "UNAUTHORIZED", name


def test_malformed_authorization_header_is_401(anonymous):
    assert anonymous.get("/api/post", headers={"Authorization": "Basic abc"}).status_code == 401


def test_token_never_grants_more_than_the_current_role(app, anonymous):
    user = users.create_user(state_of(app), "ed", "correct horse", "admin")
    users.create_user(state_of(app), "root", "correct horse", "admin")
    token = login(anonymous, "ed").get_json()["data"]["accessToken"]
    users.update_user(state_of(app), user.id, role="viewer")
    assert anonymous.get("/api/users", headers=bearer(token)).status_code == 403
    users.delete_user(state_of(app), user.id)
    assert anonymous.get("/api/post", headers=bearer(token)).status_code == 401


# -- API keys --------------------------------------------------------------------------
def test_key_as_bearer_or_header_and_its_activity(app, anonymous):
    key, secret = keys.create_key(state_of(app), "builder", ["read"])
    assert anonymous.get("/api/post", headers=bearer(secret)).status_code == 200
    assert anonymous.get("/api/post/alpha", headers={"X-API-Key": secret}).status_code == 200
    assert anonymous.get("/api/post/nope", headers={"X-API-Key": secret}).status_code == 404
    shown = keys.get_key(state_of(app), key.id)
    assert shown.request_count == 3 and shown.last_ip == "127.0.0.1"
    log = keys.activity(state_of(app), key.id)
    assert [(e["path"], e["status"]) for e in log] == [
        ("/api/post/nope", 404),
        ("/api/post/alpha", 200),
        ("/api/post", 200),
    ]


def test_a_keyed_read_never_waits_for_the_state_databases_writer(app, anonymous):
    # Another process (or machine) holds a write on the key's row: a read with the key is
    # answered all the same, and its usage is written once that write is done.
    key, secret = keys.create_key(state_of(app), "builder", ["read"])
    other = StateStore(state_of(app).folder, state_of(app).url)
    answered = []
    try:
        with other.transaction() as db:
            db.execute("UPDATE api_keys SET name = name WHERE id = ?", (key.id,))
            reader = threading.Thread(
                target=lambda: answered.append(anonymous.get("/api/post", headers=bearer(secret)))
            )
            reader.start()
            reader.join(timeout=10)
            assert [r.status_code for r in answered] == [200]  # not queued behind the lock
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not other.query("SELECT * FROM key_activity"):
            time.sleep(0.05)  # written by the process's own writer, with no request to prompt it
        written = other.query("SELECT request_count, last_ip FROM api_keys WHERE id = ?", (key.id,))
        assert tuple(written[0]) == (1, "127.0.0.1")
        assert [r["path"] for r in other.query("SELECT path FROM key_activity")] == ["/api/post"]
    finally:
        other.close()


def test_unknown_revoked_and_expired_keys_are_401(app, anonymous):
    state = state_of(app)
    key, secret = keys.create_key(state, "k", ["read"])
    keys.revoke_key(state, key.id)
    revoked = anonymous.get("/api/post", headers=bearer(secret))
    assert revoked.status_code == 401 and "revoked" in revoked.get_json()["error"]["message"]
    assert anonymous.get("/api/post", headers=bearer(secret[:-2] + "xx")).status_code == 401
    _, short = keys.create_key(state, "short", ["read"], expires_in=1)
    time.sleep(1.1)
    expired = anonymous.get("/api/post", headers=bearer(short))
    assert expired.status_code == 401 and "expired" in expired.get_json()["error"]["message"]


def test_key_ip_allow_list(app, anonymous):
    _, secret = keys.create_key(state_of(app), "office", ["read"], allowed_ips=["10.0.0.0/8"])
    outside = anonymous.get("/api/post", headers=bearer(secret))
    assert outside.status_code == 403 and outside.get_json()["error"]["code"] == "FORBIDDEN"
    inside = anonymous.get(
        "/api/post", headers=bearer(secret), environ_overrides={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert inside.status_code == 200


def test_behind_trusted_proxies_the_client_address_is_the_forwarded_one(query_repo, tmp_path):
    """With VELLUM_PROXIES=1 a key's IP list sees the client the proxy saw; without it, a
    client cannot forge X-Forwarded-For into the list."""
    forwarded = {"X-Forwarded-For": "10.1.2.3"}
    for proxies, status in ((0, 403), (1, 200)):
        application = build_app(query_repo, tmp_path / f"state{proxies}", PROXIES=proxies)
        try:
            store = application.extensions["vellum"].state
            _, secret = keys.create_key(store, "office", ["read"], allowed_ips=["10.0.0.0/8"])
            answer = application.test_client().get(
                "/api/post", headers={**bearer(secret), **forwarded}
            )
            assert answer.status_code == status, proxies
        finally:
            application.extensions["vellum"].close()


def test_key_usage_limit(app, anonymous):
    _, secret = keys.create_key(state_of(app), "trial", ["read"], usage_limit=2)
    assert [anonymous.get("/api/post", headers=bearer(secret)).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]


def test_key_usage_limit_is_exact_under_concurrency(app):
    key, secret = keys.create_key(state_of(app), "trial", ["read"], usage_limit=5)
    start = threading.Barrier(30)

    def read(_) -> int:
        client = app.test_client()
        start.wait(timeout=20)
        return client.get("/api/post", headers=bearer(secret)).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(read, range(30)))
    assert sorted(statuses) == [200] * 5 + [429] * 25
    assert keys.get_key(state_of(app), key.id).request_count == 5


def test_rotation_keeps_the_old_secret_for_the_grace_period(app, anonymous):
    state = state_of(app)
    key, old = keys.create_key(state, "ci", ["read"])
    _, new = keys.rotate_key(state, key.id, grace_seconds=3600)
    assert anonymous.get("/api/post", headers=bearer(old)).status_code == 200
    assert anonymous.get("/api/post", headers=bearer(new)).status_code == 200
    _, newest = keys.rotate_key(state, key.id, grace_seconds=0)
    assert anonymous.get("/api/post", headers=bearer(new)).status_code == 401
    assert anonymous.get("/api/post", headers=bearer(newest)).status_code == 200


def test_keys_api_for_admins(app, anonymous):
    _, admin_key = keys.create_key(state_of(app), "root", ["read", "admin"])
    made = anonymous.post(
        "/api/keys",
        headers=bearer(admin_key),
        json={"name": "site build", "scopes": ["read"], "expiresIn": "30d", "usageLimit": 10},
    )
    assert made.status_code == 201
    data = made.get_json()["data"]
    assert data["key"].startswith(f"vk_{data['id']}_") and data["usageLimit"] == 10
    listed = anonymous.get("/api/keys", headers=bearer(admin_key)).get_json()["data"]
    assert all("key" not in row and "keyHash" not in row for row in listed)
    rotated = anonymous.post(f"/api/keys/{data['id']}/rotate", headers=bearer(admin_key), json={})
    assert rotated.get_json()["data"]["key"] != data["key"]
    revoked = anonymous.delete(f"/api/keys/{data['id']}", headers=bearer(admin_key))
    assert revoked.get_json()["data"]["active"] is False
    bad = anonymous.post("/api/keys", headers=bearer(admin_key), json={"name": "", "scopes": ["x"]})
    assert bad.status_code == 422
    assert {d["field"] for d in bad.get_json()["error"]["details"]} == {"name", "scopes"}
    # An expiry the API does not read must not give a key that never expires.
    for body, field in (
        ({"name": "k", "expires": "1d"}, "expires"),
        ({"name": "k", "expiresIn": "0d"}, "expiresIn"),
        ({"name": "k", "expiresIn": "-1d"}, "expiresIn"),
        ({"name": ["k"]}, "name"),
    ):
        refused = anonymous.post("/api/keys", headers=bearer(admin_key), json=body)
        assert refused.status_code == 422, body
        assert [d["field"] for d in refused.get_json()["error"]["details"]] == [field]


# -- scopes and drafts -----------------------------------------------------------------
def ids(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [r["id"] for r in response.get_json()["data"]]


def test_anonymous_sees_published_only(anonymous):
    assert ids(anonymous.get("/api/post")) == ["alpha", "beta", "epsilon"]
    assert anonymous.get("/api/post/gamma").status_code == 404
    assert ids(anonymous.get("/api/post?filter[status]=draft")) == []
    assert anonymous.get("/api/search?q=caching").get_json()["data"] == []
    assert ids(anonymous.get("/api/person")) == ["jane", "john"]  # no status field: public


def test_read_drafts_scope_sees_drafts(app, anonymous):
    _, reader = keys.create_key(state_of(app), "reader", ["read"])
    _, drafts = keys.create_key(state_of(app), "editor", ["read", "read:drafts"])
    assert "gamma" not in ids(anonymous.get("/api/post", headers=bearer(reader)))
    assert "gamma" in ids(anonymous.get("/api/post", headers=bearer(drafts)))
    assert anonymous.get("/api/post/gamma", headers=bearer(drafts)).status_code == 200


@pytest.mark.parametrize(
    ("scopes", "path", "status"),
    [
        (["read"], "/api/users", 403),
        (["admin"], "/api/users", 200),
        (["read"], "/api/keys", 403),
        (["read", "admin"], "/api/keys", 200),
        (["write"], "/api/post", 403),
        (["read"], "/api/post", 200),
        (["read"], "/api/auth/me", 200),
    ],
)
def test_each_scope_on_a_real_route(app, anonymous, scopes, path, status):
    _, secret = keys.create_key(state_of(app), "k", scopes)
    assert anonymous.get(path, headers=bearer(secret)).status_code == status


def test_anonymous_needs_auth_for_admin_routes(anonymous):
    for path in ("/api/users", "/api/keys", "/api/auth/me"):
        response = anonymous.get(path)
        assert (
            response.status_code == 401 and response.get_json()["error"]["code"] == "UNAUTHORIZED"
        )


def test_private_site_refuses_anonymous_reads(tmp_path):
    application = build_app(site_with(tmp_path, ""), tmp_path / "state")
    assert application.test_client().get("/api/post").status_code == 401
    application.extensions["vellum"].close()


# -- users API -------------------------------------------------------------------------
def test_users_api(app, admin, anonymous):
    token = login(anonymous).get_json()["data"]["accessToken"]
    made = anonymous.post(
        "/api/users",
        headers=bearer(token),
        json={"name": "bo", "password": "long enough", "role": "editor"},
    )
    assert (
        made.status_code == 201
        and made.headers["Location"] == f"/api/users/{made.json['data']['id']}"
    )
    user_id = made.get_json()["data"]["id"]
    changed = anonymous.put(f"/api/users/{user_id}", headers=bearer(token), json={"role": "viewer"})
    assert changed.get_json()["data"]["role"] == "viewer"
    assert (
        anonymous.post(
            "/api/users", headers=bearer(token), json={"name": "bo", "password": "long enough"}
        ).status_code
        == 409
    )
    short = anonymous.post("/api/users", headers=bearer(token), json={"name": "x", "password": "1"})
    assert (
        short.status_code == 422 and short.get_json()["error"]["details"][0]["field"] == "password"
    )
    last = anonymous.delete(f"/api/users/{admin.id}", headers=bearer(token))
    assert last.status_code == 409
    assert anonymous.delete(f"/api/users/{user_id}", headers=bearer(token)).status_code == 204
    assert anonymous.get(f"/api/users/{user_id}", headers=bearer(token)).status_code == 404
    # By name too; names are checked, unique whatever their case, passwords are strings.
    by_name = anonymous.get("/api/users/ada", headers=bearer(token))
    assert by_name.status_code == 200 and by_name.get_json()["data"]["id"] == admin.id
    for body, field in (
        ({"name": "bad name/..", "password": "long enough"}, "name"),
        ({"name": "ADA", "password": "long enough"}, None),
        ({"name": "num", "password": 12345678901234}, "password"),
    ):
        refused = anonymous.post("/api/users", headers=bearer(token), json=body)
        if field is None:
            assert refused.status_code == 409, body
        else:
            assert refused.status_code == 422, body
            assert refused.get_json()["error"]["details"][0]["field"] == field


def test_user_emails_are_checked_when_created_or_changed(app, admin, anonymous):
    auth = bearer(login(anonymous).get_json()["data"]["accessToken"])
    for email in ("bo@example.com\nBcc: all@example.com", "bo@example.com\r\n", "no at sign", 7):
        made = anonymous.post(
            "/api/users",
            headers=auth,
            json={"name": "bo", "password": "long enough", "email": email},
        )
        assert made.status_code == 422, email
        assert made.get_json()["error"]["details"][0]["field"] == "email"
        changed = anonymous.patch(f"/api/users/{admin.id}", headers=auth, json={"email": email})
        assert changed.status_code == 422, email
    assert users.get_user(state_of(app), admin.id).email == "ada@example.com"
    assert [u.name for u in users.list_users(state_of(app))] == ["ada"]
    made = anonymous.post(
        "/api/users",
        headers=auth,
        json={"name": "bo", "password": "long enough", "email": "Bo@Example.COM"},
    )
    assert made.status_code == 201 and made.get_json()["data"]["email"] == "Bo@example.com"
    cleared = anonymous.patch(f"/api/users/{admin.id}", headers=auth, json={"email": ""})
    assert cleared.status_code == 200 and cleared.get_json()["data"]["email"] is None


def test_password_is_stored_hashed(app, admin):
    row = state_of(app).query("SELECT password_hash FROM users WHERE name = 'ada'")[0]
    assert row["password_hash"].startswith("$argon2id$")
    assert "correct horse" not in row["password_hash"]


# -- rate limits and size --------------------------------------------------------------
def test_rate_limit_headers_count_down_then_429(tmp_path):
    repo = site_with(
        tmp_path, "auth:\n  public_read: true\nrate_limits:\n  anonymous: 3 per minute\n"
    )
    application = build_app(repo, tmp_path / "state")
    client = application.test_client()
    seen = [client.get("/api/post") for _ in range(4)]
    assert [r.headers["X-RateLimit-Limit"] for r in seen[:3]] == ["3", "3", "3"]
    assert [r.headers["X-RateLimit-Remaining"] for r in seen[:3]] == ["2", "1", "0"]
    assert all(int(r.headers["X-RateLimit-Reset"]) > time.time() for r in seen)
    blocked = seen[3]
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert all("Retry-After" not in r.headers for r in seen[:3])  # only where it means "wait"
    assert blocked.get_json()["error"]["code"] == "RATE_LIMITED"
    # A key has its own budget (the site's default for signed-in callers, or its own).
    _, secret = keys.create_key(state_of(application), "tight", ["read"], rate_limit="2 per minute")
    statuses = [client.get("/api/post", headers=bearer(secret)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    application.extensions["vellum"].close()


MIXED_ROUTES = [
    ("GET", "/api/post", None),
    ("GET", "/api/search?q=alpha", None),
    ("GET", "/api/post/alpha", None),
    ("POST", "/graphql", {"query": "{ posts { nodes { id } } }"}),
    ("GET", "/api/content", None),
]


def test_one_budget_per_caller_across_routes_and_processes(tmp_path):
    repo = site_with(
        tmp_path, "auth:\n  public_read: true\nrate_limits:\n  anonymous: 10 per minute\n"
    )
    first = build_app(repo, tmp_path / "state")  # two apps on one state folder: two workers
    second = build_app(repo, tmp_path / "state")
    try:
        clients = [first.test_client(), second.test_client()]

        def ask(n: int, headers: dict | None = None):
            method, path, body = MIXED_ROUTES[n % len(MIXED_ROUTES)]
            return clients[n % 2].open(path, method=method, json=body, headers=headers)

        seen = [ask(n) for n in range(10)]
        assert [r.status_code for r in seen] == [200] * 10
        assert [r.headers["X-RateLimit-Remaining"] for r in seen] == [str(9 - n) for n in range(10)]
        refused = [ask(n) for n in range(len(MIXED_ROUTES))]
        assert [r.status_code for r in refused] == [429] * len(MIXED_ROUTES)
        assert {r.get_json()["error"]["code"] for r in refused} == {"RATE_LIMITED"}
        other = first.test_client()
        other.environ_base["REMOTE_ADDR"] = "127.0.0.2"  # another IP, another budget
        assert other.get("/api/post").status_code == 200
        # A key is one identity too, whichever route and process it reaches.
        _, secret = keys.create_key(state_of(first), "tight", ["read"], rate_limit="3 per minute")
        statuses = [ask(n, bearer(secret)).status_code for n in range(len(MIXED_ROUTES))]
        assert statuses == [200, 200, 200, 429, 429]
    finally:
        for application in (first, second):
            application.extensions["vellum"].close()


CORS_SITE = (
    "auth:\n  public_read: true\nrate_limits:\n  anonymous: 2 per minute\n"
    'cors:\n  origins: ["https://site.example"]\n'
)
PREFLIGHT = {"Origin": "https://site.example", "Access-Control-Request-Method": "GET"}


def test_preflights_spend_no_budget(tmp_path):
    application = build_app(site_with(tmp_path, CORS_SITE), tmp_path / "state")
    client = application.test_client()
    asked = [client.options("/api/post", headers=PREFLIGHT) for _ in range(5)]
    assert {a.headers["Access-Control-Allow-Origin"] for a in asked} == {"https://site.example"}
    assert all("X-RateLimit-Remaining" not in a.headers for a in asked)
    got = [client.get("/api/post", headers={"Origin": "https://site.example"}) for _ in range(3)]
    assert [r.status_code for r in got] == [200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in got] == ["1", "0", "0"]
    application.extensions["vellum"].close()


def test_cors_answers_vary_on_origin(tmp_path):
    """Whether an answer carries Access-Control-Allow-Origin depends on Origin: caches must
    know, or one origin's answer is served to another."""
    application = build_app(site_with(tmp_path, CORS_SITE), tmp_path / "state")
    client = application.test_client()
    answers = [
        client.options("/api/post", headers=PREFLIGHT),
        client.get("/api/post", headers={"Origin": "https://site.example"}),
        client.get("/api/post", headers={"Origin": "https://evil.example"}),
        client.get("/api/post"),  # a 429 by now: it varies all the same
    ]
    assert answers[1].headers["Access-Control-Allow-Origin"] == "https://site.example"
    assert "Access-Control-Allow-Origin" not in answers[2].headers
    assert answers[3].status_code == 429
    assert all("Origin" in answer.vary for answer in answers)
    application.extensions["vellum"].close()


def test_answers_to_credentials_are_private_to_caches(app, anonymous, admin):
    _, secret = keys.create_key(state_of(app), "editor", ["read", "read:drafts", "write"])
    token = login(anonymous).get_json()["data"]["accessToken"]
    query = {"query": "{ posts { nodes { id } } }"}
    for headers in (bearer(secret), {"X-API-Key": secret}, bearer(token)):
        for answer in (
            anonymous.get("/api/post/gamma", headers=headers),  # a draft
            anonymous.post("/graphql", json=query, headers=headers),
            anonymous.get("/api/post/nope", headers=headers),
        ):
            assert answer.cache_control.private and not answer.cache_control.public
    public = anonymous.get("/api/post")
    assert public.status_code == 200 and not public.cache_control.private
    # ... and says it varies with the credentials, so a cache never gives it to a key holder.
    assert {"Authorization", "X-API-Key"} <= set(public.vary)
    # A file that is public to everyone stays private when a key fetched it.
    uploaded = anonymous.post(
        "/api/upload",
        data={"file": (io.BytesIO(b"\x89PNG\r\n\x1a\n" + bytes(64)), "logo.png")},
        headers=bearer(secret),
    )
    url = uploaded.get_json()["data"]["url"]
    held = anonymous.get(url, headers=bearer(secret))
    assert held.cache_control.private and not held.cache_control.public
    assert held.cache_control.max_age == 86400
    assert anonymous.get(url).cache_control.public


def test_rate_limit_storage_is_the_state_store_or_redis(tmp_path):
    settings = "auth:\n  public_read: true\nrate_limits:\n  storage: sqlite:///counts.db\n"
    problems = settings_problems(load_site(site_with(tmp_path, settings)))
    assert [p.reason for p in problems] == [
        "rate_limits.storage must be state://, memory:// or a redis:// URL"
    ]


def test_oversized_body_is_413(tmp_path):
    repo = site_with(tmp_path, "auth:\n  public_read: true\nlimits:\n  max_body: 200\n")
    application = build_app(repo, tmp_path / "state")
    response = application.test_client().post(
        "/api/auth/login", json={"username": "x" * 500, "password": "y"}
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    application.extensions["vellum"].close()


def test_cors_only_for_configured_origins(tmp_path):
    repo = site_with(
        tmp_path, 'auth:\n  public_read: true\ncors:\n  origins: ["https://site.example"]\n'
    )
    application = build_app(repo, tmp_path / "state")
    client = application.test_client()
    allowed = client.get("/api/post", headers={"Origin": "https://site.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://site.example"
    other = client.get("/api/post", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    application.extensions["vellum"].close()


def test_redis_storage_shares_one_count_across_processes(tmp_path, redis_url):
    settings = (
        "auth:\n  public_read: true\n"
        f"rate_limits:\n  anonymous: 3 per minute\n  storage: {redis_url}\n"
    )
    repo = site_with(tmp_path, settings)
    first = build_app(repo, tmp_path / "state-a")  # two apps: two limiters, as two processes
    second = build_app(repo, tmp_path / "state-b")
    statuses = [
        first.test_client().get("/api/post").status_code,
        second.test_client().get("/api/post").status_code,
        first.test_client().get("/api/post").status_code,
        second.test_client().get("/api/post").status_code,
    ]
    assert statuses == [200, 200, 200, 429]
    for application in (first, second):
        application.extensions["vellum"].close()


def test_a_reader_never_learns_a_drafts_id_through_a_relation(app, anonymous, query_repo):
    config = (query_repo / "vellum.yml").read_text()
    related = "      related:     {type: relation, to: post, many: true}\n"
    write_files(
        query_repo,
        {
            "vellum.yml": config.replace(
                "      cover:       {type: media}\n", "      cover:       {type: media}\n" + related
            ),
            "posts/pointer.md": "---\ntitle: Pointer\nstatus: published\n"
            "related: [alpha, gamma]\n---\n",  # gamma is a draft
        },
    )
    time.sleep(0.01)
    app.extensions["vellum"].catalog()  # reloads vellum.yml
    app.extensions["vellum"].sync()
    shown = anonymous.get("/api/post/pointer").get_json()["data"]
    assert shown["related"] == ["alpha"]
    content = anonymous.get("/api/content/pointer").get_json()["data"]
    assert content["data"]["related"] == ["alpha"]
    _, drafts = keys.create_key(state_of(app), "editor", ["read", "read:drafts"])
    full = anonymous.get("/api/post/pointer", headers=bearer(drafts)).get_json()["data"]
    assert full["related"] == ["alpha", "gamma"]
