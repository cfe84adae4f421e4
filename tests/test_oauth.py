"""OAuth2 end to end: every grant against a real app, the consent pages, /api/apps, the CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.helpers import authorised_client
from vellum.auth import oauth, users
from vellum.cli.main import cli, open_site

REDIRECT = "https://app.example.com/callback"
PASSWORD = "correct horse battery"


def state_of(app):
    return app.extensions["vellum"].state


def token(test_client, data: dict, auth: tuple[str, str] | None = None):
    return test_client.post("/oauth/token", data=data, auth=auth)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def bearer(access_token: str) -> dict:
    return {"Authorization": f"Bearer {access_token}"}


def csrf_of(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


@pytest.fixture
def admin(app):
    return users.create_user(state_of(app), "ada", PASSWORD, "admin")


@pytest.fixture
def viewer(app):
    return users.create_user(state_of(app), "vic", PASSWORD, "viewer")


@pytest.fixture
def web_app(app):
    """A public single-page app that signs users in with the authorization code grant."""
    client, secret = oauth.create_client(
        state_of(app),
        "Field Notes Editor",
        ["read", "read:drafts", "write"],
        [REDIRECT],
        public=True,
    )
    assert secret is None
    return client


def authorize_url(client, challenge: str | None, **overrides) -> str:
    params = {
        "response_type": "code",
        "client_id": client.id,
        "redirect_uri": REDIRECT,
        "scope": "read write",
        "state": "s-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return "/oauth/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def sign_in(browser, url: str, name: str = "ada", password: str = PASSWORD):
    """Fill in the login page the authorize URL shows, with its CSRF token."""
    login = browser.get(url)
    assert login.status_code == 200 and b"Sign in" in login.data
    form = {"action": "sign_in", "username": name, "password": password}
    return browser.post(url, data={**form, "csrf_token": csrf_of(login)})


def sign_in_and_approve(browser, url: str, name: str = "ada") -> dict:
    """Walk the real pages: login form, consent form, Approve; returns the redirect's query."""
    signed_in = sign_in(browser, url, name)
    assert signed_in.status_code == 303 and signed_in.location == url
    consent = browser.get(url)
    assert consent.status_code == 200
    approved = browser.post(url, data={"action": "approve", "csrf_token": csrf_of(consent)})
    assert approved.status_code == 303
    target = urlsplit(approved.location)
    assert f"{target.scheme}://{target.netloc}{target.path}" == REDIRECT
    return {k: v[0] for k, v in parse_qs(target.query).items()}


def test_s256_matches_the_rfc_7636_example():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert oauth.s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


# -- client_credentials ----------------------------------------------------------------
def test_client_credentials_token_acts_as_the_client(app):
    client, secret = oauth.create_client(state_of(app), "Site builder", ["read", "read:drafts"])
    browser = app.test_client()
    answer = token(browser, {"grant_type": "client_credentials"}, (client.id, secret))
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    assert sorted(body) == ["access_token", "expires_in", "scope", "token_type"]
    assert (body["token_type"], body["expires_in"], body["scope"]) == (
        "Bearer",
        900,
        "read read:drafts",
    )
    me = browser.get("/api/auth/me", headers=bearer(body["access_token"])).get_json()["data"]
    assert me == {
        "kind": "client",
        "id": client.id,
        "name": "Site builder",
        "scopes": ["read", "read:drafts"],
    }
    # read:drafts shows the draft that anonymous readers of this public site cannot see.
    listed = browser.get("/api/post", headers=bearer(body["access_token"])).get_json()
    assert "gamma" in [r["id"] for r in listed["data"]]
    assert "gamma" not in [r["id"] for r in browser.get("/api/post").get_json()["data"]]
    refused = browser.get("/api/users", headers=bearer(body["access_token"]))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "FORBIDDEN"


def test_client_credentials_with_the_secret_in_the_body(app):
    client, secret = oauth.create_client(state_of(app), "Builder", ["read"])
    form = {"grant_type": "client_credentials", "client_id": client.id, "client_secret": secret}
    answer = token(app.test_client(), form)
    assert answer.status_code == 200 and answer.get_json()["scope"] == "read"


@pytest.mark.parametrize("how", ["basic", "body", "unknown"])
def test_wrong_client_secret_is_invalid_client_401(app, how):
    client, secret = oauth.create_client(state_of(app), "Builder", ["read"])
    form = {"grant_type": "client_credentials"}
    if how == "basic":
        answer = token(app.test_client(), form, (client.id, secret + "x"))
    elif how == "body":
        answer = token(app.test_client(), {**form, "client_id": client.id, "client_secret": "no"})
    else:
        answer = token(app.test_client(), form, ("vc_0000000000000000", secret))
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Basic realm="vellum"'
    assert answer.get_json() == {
        "error": "invalid_client",
        "error_description": "Unknown client or wrong client secret",
    }


def test_a_public_client_cannot_use_client_credentials(app, web_app):
    answer = token(app.test_client(), {"grant_type": "client_credentials", "client_id": web_app.id})
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "unauthorized_client"


def test_unsupported_and_missing_grant_type(app):
    client, secret = oauth.create_client(state_of(app), "Builder", ["read"])
    browser = app.test_client()
    unsupported = token(browser, {"grant_type": "implicit"}, (client.id, secret))
    assert unsupported.status_code == 400
    assert unsupported.get_json() == {
        "error": "unsupported_grant_type",
        "error_description": "Unsupported grant_type 'implicit'",
    }
    missing = token(browser, {}, (client.id, secret))
    assert missing.get_json()["error"] == "invalid_request"


def test_a_grant_the_client_was_not_given_is_unauthorized_client(app, admin):
    client, secret = oauth.create_client(state_of(app), "Builder", ["read"])
    form = {"grant_type": "password", "username": "ada", "password": PASSWORD}
    answer = token(app.test_client(), form, (client.id, secret))
    assert answer.status_code == 400 and answer.get_json()["error"] == "unauthorized_client"


def test_scopes_are_narrowed_to_the_clients(app):
    client, secret = oauth.create_client(state_of(app), "Reader", ["read"])
    browser = app.test_client()

    def ask(scope: str):
        return token(
            browser, {"grant_type": "client_credentials", "scope": scope}, (client.id, secret)
        )

    write_only = ask("write")
    assert write_only.status_code == 400
    assert write_only.get_json()["error"] == "invalid_scope"
    assert ask("read write").get_json()["scope"] == "read"
    assert ask("delete").get_json() == {
        "error": "invalid_scope",
        "error_description": "Unknown scope 'delete'",
    }


def test_the_token_endpoint_wants_a_form_with_each_parameter_once(app):
    client, secret = oauth.create_client(state_of(app), "Builder", ["read"])
    browser = app.test_client()
    as_json = browser.post(
        "/oauth/token", json={"grant_type": "client_credentials"}, auth=(client.id, secret)
    )
    assert as_json.status_code == 400 and as_json.get_json()["error"] == "invalid_request"
    repeated = browser.post(
        "/oauth/token",
        data="grant_type=client_credentials&scope=read&scope=write",
        content_type="application/x-www-form-urlencoded",
        auth=(client.id, secret),
    )
    assert repeated.get_json() == {
        "error": "invalid_request",
        "error_description": "scope is repeated",
    }


def test_removing_an_application_stops_its_tokens(app):
    client, secret = oauth.create_client(state_of(app), "Builder", ["read"])
    browser = app.test_client()
    access = token(browser, {"grant_type": "client_credentials"}, (client.id, secret)).get_json()
    oauth.delete_client(state_of(app), client.id)
    answer = browser.get("/api/post", headers=bearer(access["access_token"]))
    assert answer.status_code == 401
    assert answer.get_json()["error"]["message"] == "The token's application no longer exists"


# -- password --------------------------------------------------------------------------
def password_client(app, scopes=("read", "read:drafts", "write", "admin")):
    return oauth.create_client(
        state_of(app), "CLI tool", list(scopes), grants=["password", "refresh_token"]
    )


def test_password_grant_acts_as_the_user(app, admin):
    client, secret = password_client(app)
    browser = app.test_client()
    form = {
        "grant_type": "password",
        "username": "ada",
        "password": PASSWORD,
        "scope": "read admin",
    }
    answer = token(browser, form, (client.id, secret))
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["scope"] == "admin read" and body["refresh_token"].startswith("vr_")
    me = browser.get("/api/auth/me", headers=bearer(body["access_token"])).get_json()["data"]
    assert me == {"kind": "user", "id": str(admin.id), "name": "ada", "scopes": ["admin", "read"]}
    assert browser.get("/api/users", headers=bearer(body["access_token"])).status_code == 200


def test_password_grant_with_a_wrong_password(app, admin):
    client, secret = password_client(app)
    form = {"grant_type": "password", "username": "ada", "password": "wrong password"}
    answer = token(app.test_client(), form, (client.id, secret))
    assert answer.status_code == 400
    assert answer.get_json() == {
        "error": "invalid_grant",
        "error_description": "Wrong user name or password",
    }


def test_password_grant_never_exceeds_the_users_role(app, viewer):
    client, secret = password_client(app)
    browser = app.test_client()
    form = {"grant_type": "password", "username": "vic", "password": PASSWORD}
    assert token(browser, form, (client.id, secret)).get_json()["scope"] == "read read:drafts"
    write = token(browser, {**form, "scope": "write"}, (client.id, secret))
    assert write.get_json()["error"] == "invalid_scope"


def test_a_users_token_follows_their_current_role(app, admin):
    users.create_user(state_of(app), "bea", PASSWORD, "admin")
    client, secret = password_client(app)
    browser = app.test_client()
    form = {"grant_type": "password", "username": "bea", "password": PASSWORD}
    access = token(browser, form, (client.id, secret)).get_json()["access_token"]
    assert browser.get("/api/users", headers=bearer(access)).status_code == 200
    users.update_user(state_of(app), "bea", role="viewer")
    assert browser.get("/api/users", headers=bearer(access)).status_code == 403


# -- refresh_token ---------------------------------------------------------------------
def password_tokens(browser, auth: tuple[str, str], scope: str = "read write") -> dict:
    form = {"grant_type": "password", "username": "ada", "password": PASSWORD, "scope": scope}
    return token(browser, form, auth).get_json()


def refresh(browser, refresh_token: str, auth: tuple[str, str], **extra: str):
    return token(
        browser, {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}, auth
    )


def test_refresh_tokens_rotate_and_a_replay_revokes_the_family(app, admin):
    client, secret = password_client(app)
    browser = app.test_client()
    first = password_tokens(browser, (client.id, secret))
    refreshed = refresh(browser, first["refresh_token"], (client.id, secret)).get_json()
    assert refreshed["scope"] == "read write"
    assert refreshed["refresh_token"] != first["refresh_token"]
    assert browser.get("/api/auth/me", headers=bearer(refreshed["access_token"])).status_code == 200
    replay = refresh(browser, first["refresh_token"], (client.id, secret))
    assert replay.status_code == 400
    assert replay.get_json() == {
        "error": "invalid_grant",
        "error_description": "The refresh token has been used or revoked",
    }
    # The replay shows the family leaked: the newest refresh and access tokens die too.
    newest = refresh(browser, refreshed["refresh_token"], (client.id, secret))
    assert newest.get_json()["error"] == "invalid_grant"
    assert browser.get("/api/auth/me", headers=bearer(refreshed["access_token"])).status_code == 401


def test_a_refresh_may_narrow_but_not_widen_scopes(app, admin):
    client, secret = password_client(app)
    browser = app.test_client()
    first = password_tokens(browser, (client.id, secret))
    wider = refresh(browser, first["refresh_token"], (client.id, secret), scope="read admin")
    assert wider.get_json()["error"] == "invalid_scope"
    # Refused before it was spent: the same token still refreshes, and the session lives.
    assert browser.get("/api/auth/me", headers=bearer(first["access_token"])).status_code == 200
    assert refresh(browser, first["refresh_token"], (client.id, secret)).status_code == 200
    second = password_tokens(browser, (client.id, secret))
    narrower = refresh(browser, second["refresh_token"], (client.id, secret), scope="read")
    assert narrower.get_json()["scope"] == "read"


def test_a_refresh_token_is_bound_to_its_client(app, admin):
    client, secret = password_client(app)
    other, other_secret = password_client(app)
    browser = app.test_client()
    issued = password_tokens(browser, (client.id, secret))
    stolen = refresh(browser, issued["refresh_token"], (other.id, other_secret))
    assert stolen.get_json()["error"] == "invalid_grant"
    unknown = refresh(browser, "vr_nothing", (client.id, secret))
    assert unknown.get_json()["error"] == "invalid_grant"
    # The stolen try did not spend it: its own client still can.
    assert refresh(browser, issued["refresh_token"], (client.id, secret)).status_code == 200


# -- revocation (RFC 7009) and metadata (RFC 8414) --------------------------------------
def revoke(browser, form: dict, auth: tuple[str, str] | None):
    return browser.post("/oauth/revoke", data=form, auth=auth)


def test_revoking_a_refresh_token_ends_its_grant(app, admin):
    client, secret = password_client(app)
    browser = app.test_client()
    issued = password_tokens(browser, (client.id, secret))
    other = password_tokens(browser, (client.id, secret))  # another grant, left alone
    answer = revoke(browser, {"token": issued["refresh_token"]}, (client.id, secret))
    assert answer.status_code == 200 and answer.data == b""
    assert answer.headers["Cache-Control"] == "no-store"
    assert refresh(browser, issued["refresh_token"], (client.id, secret)).status_code == 400
    # The access token issued with it dies too; the other grant lives on.
    assert browser.get("/api/auth/me", headers=bearer(issued["access_token"])).status_code == 401
    assert browser.get("/api/auth/me", headers=bearer(other["access_token"])).status_code == 200
    assert refresh(browser, other["refresh_token"], (client.id, secret)).status_code == 200


def test_revoking_an_access_token_with_a_hint(app, admin):
    client, secret = password_client(app)
    browser = app.test_client()
    issued = password_tokens(browser, (client.id, secret))
    form = {"token": issued["access_token"], "token_type_hint": "access_token"}
    assert revoke(browser, form, (client.id, secret)).status_code == 200
    assert browser.get("/api/auth/me", headers=bearer(issued["access_token"])).status_code == 401
    # Unknown, already revoked or malformed tokens: the same 200, nothing to learn.
    for stale in (issued["access_token"], "vr_unknown", "not-a-token"):
        assert revoke(browser, {"token": stale}, (client.id, secret)).status_code == 200


def test_only_the_client_a_token_was_issued_to_may_revoke_it(app, admin):
    client, secret = password_client(app)
    other, other_secret = password_client(app)
    browser = app.test_client()
    issued = password_tokens(browser, (client.id, secret))
    for value in (issued["refresh_token"], issued["access_token"]):
        refused = revoke(browser, {"token": value}, (other.id, other_secret))
        assert refused.status_code == 400
        assert refused.get_json()["error"] == "unauthorized_client"
    wrong = revoke(browser, {"token": issued["refresh_token"]}, (client.id, "wrong"))
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "invalid_client"
    assert revoke(browser, {}, (client.id, secret)).get_json()["error"] == "invalid_request"
    assert browser.get("/api/auth/me", headers=bearer(issued["access_token"])).status_code == 200


def test_server_metadata_names_every_endpoint(app):
    answer = app.test_client().get("/.well-known/oauth-authorization-server")
    assert answer.status_code == 200
    meta = answer.get_json()
    assert meta["issuer"] == "http://localhost"
    assert meta["token_endpoint"] == "http://localhost/oauth/token"
    assert meta["authorization_endpoint"] == "http://localhost/oauth/authorize"
    assert meta["revocation_endpoint"] == "http://localhost/oauth/revoke"
    assert meta["grant_types_supported"] == [
        "authorization_code",
        "client_credentials",
        "password",
        "refresh_token",
    ]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["scopes_supported"] == ["read", "read:drafts", "write", "admin"]


# -- authorization_code with PKCE, through the real pages ------------------------------
def test_authorization_code_with_pkce_end_to_end(app, admin, web_app):
    verifier, challenge = pkce()
    browser = app.test_client()
    url = authorize_url(web_app, challenge)
    login = browser.get(url)
    assert login.headers["X-Frame-Options"] == "DENY"
    assert b"Field Notes Editor" in login.data
    returned = sign_in_and_approve(browser, url)
    assert returned["state"] == "s-123"
    exchange = {
        "grant_type": "authorization_code",
        "code": returned["code"],
        "redirect_uri": REDIRECT,
        "client_id": web_app.id,
        "code_verifier": verifier,
    }
    answer = token(browser, exchange)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["scope"] == "read write"
    me = browser.get("/api/auth/me", headers=bearer(body["access_token"])).get_json()["data"]
    assert (me["kind"], me["name"], me["scopes"]) == ("user", "ada", ["read", "write"])
    assert browser.get("/api/users", headers=bearer(body["access_token"])).status_code == 403

    again = token(browser, exchange)
    assert again.status_code == 400
    assert again.get_json() == {
        "error": "invalid_grant",
        "error_description": "The authorization code has already been used",
    }
    # A replayed code revokes what its first use bought (RFC 6749 §4.1.2).
    assert browser.get("/api/auth/me", headers=bearer(body["access_token"])).status_code == 401
    refresh = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    assert token(browser, {**refresh, "client_id": web_app.id}).get_json()["error"] == (
        "invalid_grant"
    )


def test_the_consent_page_shows_only_what_the_user_may_grant(app, viewer, web_app):
    _, challenge = pkce()
    browser = app.test_client()
    url = authorize_url(web_app, challenge, scope="read read:drafts write")
    sign_in(browser, url, "vic")
    page = browser.get(url).get_data(as_text=True)
    assert "Allow Field Notes Editor?" in page and "act as <strong>vic</strong>" in page
    assert "<code>read:drafts</code>" in page and "<code>write</code>" not in page


def test_a_wrong_code_verifier_is_invalid_grant(app, admin, web_app):
    _, challenge = pkce()
    browser = app.test_client()
    returned = sign_in_and_approve(browser, authorize_url(web_app, challenge))
    other_verifier, _ = pkce()
    answer = token(
        browser,
        {
            "grant_type": "authorization_code",
            "code": returned["code"],
            "redirect_uri": REDIRECT,
            "client_id": web_app.id,
            "code_verifier": other_verifier,
        },
    )
    assert answer.status_code == 400
    assert answer.get_json() == {
        "error": "invalid_grant",
        "error_description": "code_verifier does not match the code_challenge",
    }


def test_the_token_request_must_repeat_the_redirect_uri(app, admin, web_app):
    verifier, challenge = pkce()
    browser = app.test_client()
    returned = sign_in_and_approve(browser, authorize_url(web_app, challenge))
    answer = token(
        browser,
        {
            "grant_type": "authorization_code",
            "code": returned["code"],
            "client_id": web_app.id,
            "redirect_uri": "https://app.example.com/other",
            "code_verifier": verifier,
        },
    )
    assert answer.get_json()["error"] == "invalid_grant"


def test_an_expired_code_is_invalid_grant(app, admin, web_app):
    verifier, challenge = pkce()
    browser = app.test_client()
    returned = sign_in_and_approve(browser, authorize_url(web_app, challenge))
    with state_of(app).transaction() as db:
        db.execute("UPDATE oauth_codes SET expires_at = expires_at - ?", (oauth.CODE_LIFETIME + 1,))
    answer = token(
        browser,
        {
            "grant_type": "authorization_code",
            "code": returned["code"],
            "redirect_uri": REDIRECT,
            "client_id": web_app.id,
            "code_verifier": verifier,
        },
    )
    assert answer.get_json()["error_description"] == "The authorization code has expired"


def test_a_public_client_must_send_a_code_challenge(app, web_app):
    answer = app.test_client().get(authorize_url(web_app, None, code_challenge_method=None))
    assert answer.status_code == 303
    returned = parse_qs(urlsplit(answer.location).query)
    assert returned == {
        "error": ["invalid_request"],
        "error_description": ["PKCE is required: send an S256 code_challenge"],
        "state": ["s-123"],
    }


def test_the_plain_pkce_method_is_refused(app, web_app):
    verifier, _ = pkce()
    url = authorize_url(web_app, verifier, code_challenge_method="plain")
    returned = parse_qs(urlsplit(app.test_client().get(url).location).query)
    assert returned["error"] == ["invalid_request"]
    assert returned["error_description"] == ["code_challenge_method must be S256"]


def test_a_redirect_uri_mismatch_is_shown_never_redirected(app, web_app):
    _, challenge = pkce()
    browser = app.test_client()
    for url in (
        authorize_url(web_app, challenge, redirect_uri="https://evil.example/callback"),
        authorize_url(web_app, challenge, redirect_uri=REDIRECT + "/extra"),
        authorize_url(web_app, challenge, client_id="vc_0000000000000000"),
    ):
        answer = browser.get(url)
        assert answer.status_code == 400 and "Location" not in answer.headers
        assert answer.mimetype == "text/html"
        assert b"cannot go on" in answer.data


def test_deny_sends_access_denied_back(app, admin, web_app):
    _, challenge = pkce()
    browser = app.test_client()
    url = authorize_url(web_app, challenge)
    sign_in(browser, url)
    denied = browser.post(url, data={"action": "deny", "csrf_token": csrf_of(browser.get(url))})
    assert denied.status_code == 303
    assert denied.location == REDIRECT + "?error=access_denied&state=s-123"


def test_forms_without_the_csrf_token_are_refused(app, admin, web_app):
    _, challenge = pkce()
    browser = app.test_client()
    url = authorize_url(web_app, challenge)
    before_sign_in = csrf_of(browser.get(url))
    forged = browser.post(url, data={"action": "sign_in", "username": "ada", "password": PASSWORD})
    assert forged.status_code == 403 and b"CSRF" in forged.data
    assert sign_in(browser, url).status_code == 303
    no_token = browser.post(url, data={"action": "approve"})
    assert no_token.status_code == 403 and "Location" not in no_token.headers
    stale = browser.post(url, data={"action": "approve", "csrf_token": before_sign_in})
    assert stale.status_code == 403  # signing in started a new session and a new token


def test_a_wrong_password_on_the_login_page(app, admin, web_app):
    _, challenge = pkce()
    browser = app.test_client()
    url = authorize_url(web_app, challenge)
    again = sign_in(browser, url, "ada", "wrong password")
    assert again.status_code == 200 and b"Wrong user name or password." in again.data


# -- /api/apps -------------------------------------------------------------------------
def test_apps_rest_for_admins(app):
    api = authorised_client(app, ["admin"])
    created = api.post(
        "/api/apps",
        json={
            "name": "Dashboard",
            "scopes": ["read", "write"],
            "redirectUris": [REDIRECT],
        },
    )
    assert created.status_code == 201
    data = created.get_json()["data"]
    assert data["secret"].startswith("vcs_") and data["type"] == "confidential"
    assert data["grants"] == ["authorization_code", "client_credentials", "refresh_token"]
    assert created.headers["Location"] == f"/api/apps/{data['id']}"
    shown = api.get(f"/api/apps/{data['id']}").get_json()["data"]
    assert "secret" not in shown and shown["redirectUris"] == [REDIRECT]
    assert [a["id"] for a in api.get("/api/v1/apps").get_json()["data"]] == [data["id"]]
    answer = token(
        app.test_client(), {"grant_type": "client_credentials"}, (data["id"], data["secret"])
    )
    assert answer.get_json()["scope"] == "read write"
    assert api.delete(f"/api/apps/{data['id']}").status_code == 204
    assert api.get(f"/api/apps/{data['id']}").status_code == 404


def test_apps_rest_needs_the_admin_scope_and_valid_settings(app):
    assert authorised_client(app, ["read", "write"]).get("/api/apps").status_code == 403
    assert app.test_client().get("/api/apps").status_code == 401
    api = authorised_client(app, ["admin"])
    bad = api.post(
        "/api/apps",
        json={
            "name": "Bad",
            "scopes": ["read"],
            "public": True,
            "grants": ["client_credentials"],
            "redirectUris": ["http://example.com/cb", "https://ok.example/cb#frag"],
        },
    )
    assert bad.status_code == 422
    assert [d["field"] for d in bad.get_json()["error"]["details"]] == [
        "grants",
        "redirectUris",
        "redirectUris",
    ]


# -- the CLI ---------------------------------------------------------------------------
def test_apps_cli_add_list_remove(runner, query_repo):
    def run(*args):
        return runner.invoke(cli, ["--site", str(query_repo), "apps", *args])

    added = run("add", "Builder", "--scope", "read,read:drafts", "--json")
    assert added.exit_code == 0, added.output
    data = json.loads(added.output)["data"]
    services = open_site(str(query_repo))
    try:
        assert oauth.secret_matches(oauth.get_client(services.state, data["id"]), data["secret"])
    finally:
        services.close()
    public = run("add", "SPA", "--public", "--redirect-uri", "http://localhost:8080/cb")
    assert public.exit_code == 0 and "client_id: vc_" in public.output
    assert "client_secret" not in public.output
    lines = run("list").output.splitlines()
    assert [line.split("\t")[1:] for line in lines] == [
        ["Builder", "confidential", "read,read:drafts", "client_credentials"],
        ["SPA", "public", "read", "authorization_code,refresh_token"],
    ]
    removed = run("remove", data["id"])
    assert (
        removed.exit_code == 0
        and removed.output == f"Removed application Builder ({data['id']}).\n"
    )
    assert [r["name"] for r in json.loads(run("list", "--json").output)["data"]] == ["SPA"]
    missing = run("remove", data["id"])
    assert missing.exit_code == 1 and f"No application '{data['id']}'" in missing.output
    refused = run("add", "Bad", "--public", "--grant", "client_credentials")
    assert refused.exit_code == 1 and "no client_credentials" in refused.output


def test_a_confidential_client_may_skip_pkce_and_its_only_redirect_uri(app, admin):
    client, secret = oauth.create_client(state_of(app), "Dashboard", ["read"], [REDIRECT])
    browser = app.test_client()
    url = authorize_url(client, None, redirect_uri=None, code_challenge_method=None, scope=None)
    returned = sign_in_and_approve(browser, url)
    exchange = {"grant_type": "authorization_code", "code": returned["code"]}
    answer = token(browser, exchange, (client.id, secret))
    assert answer.status_code == 200 and answer.get_json()["scope"] == "read"


def test_an_unsupported_response_type_goes_back_to_the_client(app, web_app):
    _, challenge = pkce()
    answer = app.test_client().get(authorize_url(web_app, challenge, response_type="token"))
    returned = parse_qs(urlsplit(answer.location).query)
    assert returned["error"] == ["unsupported_response_type"]
    assert returned["state"] == ["s-123"]


def sign_in_form(name: str, csrf: str) -> dict:
    return {"action": "sign_in", "username": name, "password": "x" * 12, "csrf_token": csrf}


def test_the_authorize_form_takes_ten_posts_a_minute_from_one_address(app, web_app):
    """Each sign-in on the page spins Argon2: one address gets ten form posts a minute."""
    browser = app.test_client()
    url = authorize_url(web_app, pkce()[1])
    page = browser.get(url)
    answers = [  # a name each, so that no account's own lockout is what answers 429
        browser.post(url, data=sign_in_form(f"guesser{n}", csrf_of(page))).status_code
        for n in range(11)
    ]
    assert 429 not in answers[:10] and answers[10] == 429
    assert browser.get(url).status_code == 200  # reading the page costs nothing of it
