"""The /admin pages (sign-in, CSRF, keys, users, apps) with the test client; one real browser."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from tests.browser import browser_page
from tests.servers import call, running_server
from vellum.auth import keys, oauth, users
from vellum.store.state import StateStore

PASSWORD = "correct horse"
SCREENSHOT = Path("/tmp/admin.png")


def state_of(application) -> StateStore:
    """The state store of an app built by the fixtures."""
    return application.extensions["vellum"].state


def csrf(client, path: str = "/admin/sign-in") -> str:
    """The CSRF token the page at `path` puts in its forms."""
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, name: str = "root", password: str = PASSWORD):
    """Post the sign-in form as a browser would, CSRF token included."""
    return client.post(
        "/admin/sign-in", data={"csrf_token": csrf(client), "name": name, "password": password}
    )


def shown_secret(response) -> str:
    """The key a create or rotate answer shows, once."""
    return re.search(r'id="new-key">(vk_[^<]+)<', response.get_data(as_text=True)).group(1)


def messages(response) -> list[str]:
    """The error message and its details, as the page shows them (tags stripped)."""
    box = re.search(
        r'class="error" role="alert">(.*?)</(?:div|p)>', response.get_data(as_text=True), re.S
    )
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", line)).split())
        for line in box.group(1).split("<li>")
    ]


def bearer(secret: str) -> dict:
    """Headers that present an API key."""
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def root(app):
    """The admin `root`, beside an editor `ed`."""
    users.create_user(state_of(app), "ed", PASSWORD, "editor")
    return users.create_user(state_of(app), "root", PASSWORD, "admin", "root@example.com")


@pytest.fixture
def admin_client(app, root):
    """A browser-like client signed in as the admin `root`."""
    client = app.test_client()
    assert sign_in(client).status_code == 303
    return client


def create_key(client, **fields):
    """Post the new-key form (a key named `build` reading published records, by default)."""
    form = {"csrf_token": csrf(client, "/admin/keys"), "name": "build", "scopes": ["read"]}
    return client.post("/admin/keys", data={**form, **fields})


# -- sign-in and CSRF ------------------------------------------------------------------
def test_pages_need_a_signed_in_admin(app, root):
    client = app.test_client()
    response = client.get("/admin/keys")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/sign-in"
    assert client.get("/admin/").headers["Location"] == "/admin/sign-in"


def test_sign_in_refuses_a_wrong_password(app, root):
    client = app.test_client()
    response = sign_in(client, password="not the password")
    assert response.status_code == 401
    assert "Wrong name or password." in response.get_data(as_text=True)
    assert client.get("/admin/keys").status_code == 302


def test_sign_in_refuses_a_non_admin(app, root):
    client = app.test_client()
    response = sign_in(client, name="ed")
    assert response.status_code == 403
    assert "Only admins may use this page." in response.get_data(as_text=True)
    assert client.get("/admin/keys").status_code == 302


def test_sign_in_and_out(admin_client):
    page = admin_client.get("/admin/keys")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "root" in page.get_data(as_text=True)
    assert admin_client.get("/admin/").headers["Location"] == "/admin/keys"
    out = admin_client.post(
        "/admin/sign-out", data={"csrf_token": csrf(admin_client, "/admin/keys")}
    )
    assert out.status_code == 303 and out.headers["Location"] == "/admin/sign-in"
    assert admin_client.get("/admin/keys").status_code == 302


def test_no_page_can_be_framed_by_another_site(app, admin_client):
    token = csrf(admin_client, "/admin/users")
    answers = {
        "sign-in form": app.test_client().get("/admin/sign-in"),
        "redirect to sign-in": app.test_client().get("/admin/keys"),
        "keys": admin_client.get("/admin/keys"),
        "users": admin_client.get("/admin/users"),
        "applications": admin_client.get("/admin/apps"),
        "an error": admin_client.post("/admin/users/999/remove", data={"csrf_token": token}),
    }
    for name, answer in answers.items():
        assert answer.headers["X-Frame-Options"] == "DENY", name
        assert answer.headers["Content-Security-Policy"] == "frame-ancestors 'none'", name
        assert answer.headers["Cache-Control"] == "no-store", name
        assert answer.headers["Referrer-Policy"] == "no-referrer", name


def test_a_demoted_admin_is_signed_out(app, admin_client):
    users.create_user(state_of(app), "second", PASSWORD, "admin")
    users.update_user(state_of(app), "root", role="viewer")
    response = admin_client.get("/admin/keys")
    assert response.status_code == 403 and "root is no longer an admin." in response.get_data(
        as_text=True
    )
    assert admin_client.get("/admin/keys").status_code == 302


@pytest.mark.parametrize("token", [None, "forged"])
def test_a_post_without_the_right_csrf_token_is_refused(app, admin_client, token):
    form = {"name": "sneaky", "scopes": ["admin"]}
    if token:
        form["csrf_token"] = token
    response = admin_client.post("/admin/keys", data=form)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "FORBIDDEN"
    assert keys.list_keys(state_of(app)) == []


def test_sign_in_itself_needs_the_csrf_token(app, root):
    response = app.test_client().post("/admin/sign-in", data={"name": "root", "password": PASSWORD})
    assert response.status_code == 403


# -- API keys --------------------------------------------------------------------------
def test_a_created_key_is_shown_once_and_works(app, admin_client, anonymous):
    created = create_key(
        admin_client, name="site build", scopes=["read", "read:drafts"], expiresIn="30d"
    )
    assert created.status_code == 201
    secret = shown_secret(created)
    # The key reads drafts, which anonymous readers of this site cannot see.
    listed = anonymous.get("/api/post?sort=title&fields=title", headers=bearer(secret))
    assert listed.status_code == 200
    assert [r["id"] for r in listed.get_json()["data"]] == [
        "alpha",
        "beta",
        "delta",
        "epsilon",
        "gamma",
    ]
    assert [r["id"] for r in anonymous.get("/api/post?sort=title").get_json()["data"]] == [
        "alpha",
        "beta",
        "epsilon",
    ]
    key = keys.list_keys(state_of(app))[0]
    assert (key.name, sorted(key.scopes), key.created_by) == (
        "site build",
        ["read", "read:drafts"],
        "root",
    )
    page = admin_client.get("/admin/keys").get_data(as_text=True)
    assert secret not in page and f"{key.prefix}_…" in page
    detail = admin_client.get(f"/admin/keys/{key.id}").get_data(as_text=True)
    assert secret not in detail
    assert "<code>GET /api/post</code>" in detail and "<td>127.0.0.1</td>" in detail


def test_rotate_shows_the_new_secret_once_and_keeps_the_old_for_the_grace(
    app, admin_client, anonymous
):
    old = shown_secret(create_key(admin_client))
    key_id = keys.list_keys(state_of(app))[0].id
    token = csrf(admin_client, "/admin/keys")
    rotated = admin_client.post(
        f"/admin/keys/{key_id}/rotate", data={"csrf_token": token, "grace": "1h"}
    )
    assert rotated.status_code == 200
    new = shown_secret(rotated)
    assert new != old and new.startswith(f"vk_{key_id}_")
    assert anonymous.get("/api/post", headers=bearer(new)).status_code == 200
    assert anonymous.get("/api/post", headers=bearer(old)).status_code == 200
    again = admin_client.post(
        f"/admin/keys/{key_id}/rotate", data={"csrf_token": token, "grace": "0s"}
    )
    assert anonymous.get("/api/post", headers=bearer(new)).status_code == 401
    assert anonymous.get("/api/post", headers=bearer(shown_secret(again))).status_code == 200
    assert new not in admin_client.get(f"/admin/keys/{key_id}").get_data(as_text=True)


def test_revoke(app, admin_client, anonymous):
    secret = shown_secret(create_key(admin_client))
    key_id = keys.list_keys(state_of(app))[0].id
    token = csrf(admin_client, "/admin/keys")
    response = admin_client.post(f"/admin/keys/{key_id}/revoke", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/keys"
    page = admin_client.get("/admin/keys").get_data(as_text=True)
    assert f"Revoked build (vk_{key_id}): it no longer works." in page
    assert "<td>revoked</td>" in page
    refused = anonymous.get("/api/post", headers=bearer(secret))
    assert refused.status_code == 401
    assert refused.get_json()["error"]["message"] == "This API key has been revoked"
    rotate = admin_client.post(f"/admin/keys/{key_id}/rotate", data={"csrf_token": token})
    assert rotate.status_code == 422
    assert messages(rotate) == ["A revoked key cannot be rotated", "id : is revoked"]


def test_key_form_errors_are_shown_on_the_page(app, admin_client):
    response = create_key(admin_client, expiresIn="soon", usageLimit="-3", rateLimit="lots")
    assert response.status_code == 422
    shown = messages(response)
    assert shown[0] == "Invalid API key settings"
    assert [line.split(" :")[0] for line in shown[1:]] == ["expiresIn", "usageLimit", "rateLimit"]
    assert 'name="name" value="build"' in response.get_data(as_text=True)  # the form is kept
    response = create_key(admin_client, name=" ", scopes=[])
    assert messages(response) == [
        "Invalid API key settings",
        "name : is required",
        "scopes : expected some of read, read:drafts, write, admin",
    ]
    missing = admin_client.get("/admin/keys/000000000000")
    assert missing.status_code == 404 and messages(missing) == ["No API key '000000000000'"]
    assert keys.list_keys(state_of(app)) == []


# -- users -----------------------------------------------------------------------------
def test_users_add_change_role_and_remove(app, admin_client):
    token = csrf(admin_client, "/admin/users")
    form = {"csrf_token": token, "name": "wren", "password": PASSWORD, "role": "author"}
    added = admin_client.post("/admin/users", data={**form, "email": "wren@example.com"})
    assert added.status_code == 303 and added.headers["Location"] == "/admin/users"
    wren = users.get_user(state_of(app), "wren")
    assert (wren.role, wren.email) == ("author", "wren@example.com")
    assert "Added wren (author)." in admin_client.get("/admin/users").get_data(as_text=True)
    changed = admin_client.post(
        f"/admin/users/{wren.id}/role", data={"csrf_token": token, "role": "editor"}
    )
    assert changed.status_code == 303 and users.get_user(state_of(app), wren.id).role == "editor"
    removed = admin_client.post(f"/admin/users/{wren.id}/remove", data={"csrf_token": token})
    assert removed.status_code == 303
    assert "Removed wren." in admin_client.get("/admin/users").get_data(as_text=True)
    assert [u.name for u in users.list_users(state_of(app))] == ["ed", "root"]


def test_user_errors_are_shown_on_the_page(app, admin_client, root):
    token = csrf(admin_client, "/admin/users")
    last_admin = admin_client.post(f"/admin/users/{root.id}/remove", data={"csrf_token": token})
    assert last_admin.status_code == 409
    assert messages(last_admin) == ["This is the last admin: make another admin first"]
    demote = admin_client.post(
        f"/admin/users/{root.id}/role", data={"csrf_token": token, "role": "viewer"}
    )
    assert demote.status_code == 409
    taken = admin_client.post(
        "/admin/users", data={"csrf_token": token, "name": "ed", "password": PASSWORD}
    )
    assert taken.status_code == 409 and messages(taken) == ["A user named 'ed' already exists"]
    short = admin_client.post(
        "/admin/users", data={"csrf_token": token, "name": "x", "password": "short"}
    )
    assert messages(short) == ["Password too short", "password : must be at least 8 characters"]
    gone = admin_client.post("/admin/users/999/remove", data={"csrf_token": token})
    assert gone.status_code == 404 and messages(gone) == ["No user '999'"]
    form = {"csrf_token": token, "name": "wren", "password": PASSWORD}
    bad_email = admin_client.post("/admin/users", data={**form, "email": "w@x.io\r\nBcc: y@x.io"})
    assert bad_email.status_code == 422 and messages(bad_email)[0] == "Invalid email"
    assert [u.name for u in users.list_users(state_of(app))] == ["ed", "root"]


# -- OAuth applications ----------------------------------------------------------------
def test_applications_register_with_a_secret_shown_once_and_remove(app, admin_client):
    token = csrf(admin_client, "/admin/apps")
    form = {"csrf_token": token, "name": "Blog builder", "scopes": ["read", "read:drafts"]}
    uris = "https://blog.example.com/callback\nhttp://localhost:8080/cb"
    added = admin_client.post("/admin/apps", data={**form, "redirectUris": uris})
    assert added.status_code == 201
    page = added.get_data(as_text=True)
    secret = re.search(r'id="new-secret">(vcs_[^<]+)<', page).group(1)
    client = oauth.list_clients(state_of(app))[0]
    assert f'id="new-client-id">{client.id}<' in page and oauth.secret_matches(client, secret)
    assert client.redirect_uris == ("https://blog.example.com/callback", "http://localhost:8080/cb")
    assert (client.name, sorted(client.scopes), client.created_by) == (
        "Blog builder",
        ["read", "read:drafts"],
        "root",
    )
    assert secret not in admin_client.get("/admin/apps").get_data(as_text=True)
    public = {**form, "name": "Phone app", "public": "on", "grants": ["client_credentials"]}
    refused = admin_client.post("/admin/apps", data=public)
    assert refused.status_code == 422 and messages(refused)[0] == "Invalid application settings"
    removed = admin_client.post(f"/admin/apps/{client.id}/remove", data={"csrf_token": token})
    assert removed.status_code == 303 and oauth.list_clients(state_of(app)) == []
    gone = admin_client.post(f"/admin/apps/{client.id}/remove", data={"csrf_token": token})
    assert gone.status_code == 404 and messages(gone) == [f"No application '{client.id}'"]


# -- rate limits -----------------------------------------------------------------------
def test_pages_skip_the_api_budget_but_sign_in_has_its_own(app, admin_client):
    assert {admin_client.get("/admin/keys").status_code for _ in range(110)} == {200}
    client = app.test_client()
    token = csrf(client)
    form = {"csrf_token": token, "name": "root", "password": "guess"}
    tries = [client.post("/admin/sign-in", data=form).status_code for _ in range(11)]
    assert tries == [401] * 9 + [429, 429]  # root's own sign-in was the first of ten


# -- a real browser against the real server --------------------------------------------
@pytest.fixture
def served_site(query_repo, tmp_path):
    """`vellum serve` on a free port, sharing its state folder with the test (an admin in it)."""
    state_dir = tmp_path / "state"
    store = StateStore(state_dir)
    users.create_user(store, "root", PASSWORD, "admin")
    store.close()
    with running_server(query_repo, state_dir, tmp_path / "server.log") as (base, _):
        yield base, state_dir


def api_get(url: str, secret: str) -> tuple[int, dict]:
    """(status, JSON body) of a GET that presents the key, errors included."""
    status, _, body = call("GET", url, headers=bearer(secret))
    return status, body


@pytest.mark.timeout(90)
def test_in_a_real_browser_an_admin_creates_a_key_that_works(served_site):
    base, state_dir = served_site
    with browser_page(10_000, viewport={"width": 1100, "height": 900}) as page:
        page.goto(f"{base}/admin")
        assert page.url == f"{base}/admin/sign-in"
        page.fill("input[name=name]", "root")
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Sign in')")
        page.wait_for_url(f"{base}/admin/keys")
        page.fill("input[name=name]", "static build")
        page.check("input[name=scopes][value='read:drafts']")
        page.fill("input[name=expiresIn]", "30d")
        page.click("button:has-text('Create key')")
        secret = page.locator("#new-key").inner_text().strip()
        assert secret.startswith("vk_")
        status, body = api_get(f"{base}/api/post/gamma", secret)  # a draft: needs the key
        assert status == 200 and body["data"]["title"] == "Gamma"
        page.goto(f"{base}/admin/keys")  # shown once: a fresh load has only the prefix
        row = page.locator("tr", has_text="static build")
        assert secret not in page.content()
        assert row.locator("td").nth(3).inner_text() == "1"
        assert row.locator("td").nth(7).inner_text() == "active"
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
