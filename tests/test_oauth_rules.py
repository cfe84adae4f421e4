"""OAuth2 rules a client relies on beyond the flows: where parameters are read from, which
check comes first, what a proxy in front changes, and which PKCE challenges are refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.test_oauth import (
    PASSWORD,
    REDIRECT,
    authorize_url,
    bearer,
    password_client,
    password_tokens,
    pkce,
    state_of,
    token,
)
from vellum.auth import oauth, users

# A TLS-terminating proxy forwards plain HTTP under the public name.
PROXIED = "http://vellum.example.org"


def test_the_endpoints_answer_behind_a_proxy_that_ends_tls(app):
    client, secret = oauth.create_client(state_of(app), "Builder", ["read"])
    browser = app.test_client()
    issued = browser.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.id, secret),
        base_url=PROXIED,
    )
    assert issued.status_code == 200 and issued.get_json()["scope"] == "read"
    revoked = browser.post(
        "/oauth/revoke",
        data={"token": issued.get_json()["access_token"]},
        auth=(client.id, secret),
        base_url=PROXIED,
    )
    assert revoked.status_code == 200
    meta = browser.get("/.well-known/oauth-authorization-server", base_url=PROXIED).get_json()
    assert meta["token_endpoint"] == f"{PROXIED}/oauth/token"


def test_the_token_endpoint_reads_only_its_form(app):
    client, secret = oauth.create_client(state_of(app), "Builder", ["read", "admin"])
    answer = app.test_client().post(
        "/oauth/token?scope=admin&grant_type=password",
        data={"grant_type": "client_credentials", "scope": "read"},
        auth=(client.id, secret),
    )
    assert answer.status_code == 200 and answer.get_json()["scope"] == "read"


def test_the_client_is_authenticated_before_its_grant_type_is_looked_at(app):
    client, secret = oauth.create_client(state_of(app), "Builder", ["read"])
    browser = app.test_client()
    for auth in (None, (client.id, secret + "x")):
        answer = token(browser, {"grant_type": "implicit"}, auth)
        assert answer.status_code == 401
        assert answer.get_json()["error"] == "invalid_client"
    known = token(browser, {"grant_type": "implicit"}, (client.id, secret))
    assert known.status_code == 400 and known.get_json()["error"] == "unsupported_grant_type"


def test_revocation_ignores_a_token_type_hint_it_does_not_know(app):
    users.create_user(state_of(app), "ada", PASSWORD, "admin")
    client, secret = password_client(app)
    browser = app.test_client()
    issued = password_tokens(browser, (client.id, secret))
    form = {"token": issued["access_token"], "token_type_hint": "id_token"}
    answer = browser.post("/oauth/revoke", data=form, auth=(client.id, secret))
    assert answer.status_code == 200 and answer.data == b""
    assert browser.get("/api/auth/me", headers=bearer(issued["access_token"])).status_code == 401


def returned_error(app, url: str) -> dict:
    answer = app.test_client().get(url)
    assert answer.status_code == 303
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.location).query).items()}


def test_a_code_challenge_must_say_s256_and_be_a_sha256(app):
    public, _ = oauth.create_client(state_of(app), "SPA", ["read"], [REDIRECT], public=True)
    _, challenge = pkce()
    unnamed = returned_error(app, authorize_url(public, challenge, code_challenge_method=None))
    assert unnamed["error_description"] == "code_challenge_method must be S256"
    too_long = returned_error(app, authorize_url(public, challenge + "A" * 7))
    assert too_long["error"] == "invalid_request"
    assert too_long["error_description"] == "code_challenge is not a base64url SHA-256"
