"""The rules of the OAuth2 endpoints (vellum.auth.grants), called directly over a real state
store: PKCE, scope narrowing, exact redirect URIs, client authentication."""

from __future__ import annotations

import base64
import hashlib
import secrets

import pytest

from vellum.auth import grants, oauth, users
from vellum.auth.oauth import OAuthError

REDIRECT = "https://app.example.com/callback"


@pytest.fixture
def state(app):
    with app.app_context():  # tokens are signed with the app's key
        yield app.extensions["vellum"].state


@pytest.fixture
def public(state):
    """A browser app: no secret, so PKCE is required."""
    client, _ = oauth.create_client(
        state, "Browser app", ["read", "read:drafts", "write"], [REDIRECT], public=True
    )
    return client


@pytest.fixture
def viewer(state):
    return users.create_user(state, "vic", "correct horse battery", "viewer")


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(state, client, **args) -> grants.AuthorizationRequest:
    """Both checks of an authorization request, as the endpoint runs them."""
    args = {"response_type": "code", "client_id": client.id, **args}
    return grants.authorization_request(grants.authorization_target(state, args), args)


def test_s256_pkce_gives_a_token_only_for_the_matching_verifier(state, public, viewer):
    verifier, challenge = pkce()
    request = authorize(state, public, code_challenge=challenge, code_challenge_method="S256")
    code, _ = grants.approve(state, request, viewer)
    wrong = {"grant_type": "authorization_code", "code": code, "code_verifier": pkce()[0]}
    with pytest.raises(OAuthError, match="does not match the code_challenge"):
        grants.exchange(state, public, wrong)
    code, _ = grants.approve(state, request, viewer)
    right = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
    body = grants.exchange(state, public, right)
    assert body["token_type"] == "Bearer" and body["access_token"] and body["refresh_token"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"code_challenge_method": "plain"}, "must be S256"),
        ({"code_challenge_method": None}, "must be S256"),  # plain, the default
        ({"code_challenge_method": "s256"}, "must be S256"),
        ({"code_challenge": "too-short"}, "not a base64url SHA-256"),
        ({"code_challenge": None, "code_challenge_method": None}, "PKCE is required"),
        ({"code_challenge": None}, "without code_challenge"),
    ],
    ids=["plain", "no-method", "lower-case", "malformed", "no-challenge", "method-alone"],
)
def test_a_public_client_must_use_s256(state, public, args, message):
    sent = {"code_challenge": pkce()[1], "code_challenge_method": "S256", **args}
    with pytest.raises(OAuthError, match=message) as caught:
        authorize(state, public, **{k: v for k, v in sent.items() if v is not None})
    assert caught.value.error == "invalid_request"


def test_a_confidential_client_may_skip_pkce(state):
    client, _ = oauth.create_client(state, "Server app", ["read"], [REDIRECT])
    assert authorize(state, client).challenge is None


@pytest.mark.parametrize(
    "uri",
    [
        REDIRECT + "/",
        REDIRECT + "?next=/admin",
        REDIRECT + "#frag",
        "https://APP.example.com/callback",
        "http://app.example.com/callback",
        "https://app.example.com/callbackx",
        "https://app.example.com/call",
        "https://app.example.com.evil.example/callback",
    ],
)
def test_a_redirect_uri_must_match_a_registered_one_exactly(state, public, uri):
    with pytest.raises(OAuthError, match="not registered") as caught:
        grants.authorization_target(state, {"client_id": public.id, "redirect_uri": uri})
    assert caught.value.error == "invalid_request"


def test_the_one_registered_redirect_uri_is_used_when_none_is_sent(state, public):
    target = grants.authorization_target(state, {"client_id": public.id})
    assert (target.redirect_uri, target.redirect_given) == (REDIRECT, False)
    two, _ = oauth.create_client(state, "Two", ["read"], [REDIRECT, REDIRECT + "2"])
    with pytest.raises(OAuthError, match="redirect_uri is required"):
        grants.authorization_target(state, {"client_id": two.id})


@pytest.mark.parametrize(
    ("asked", "granted"),
    [
        (None, {"read", "read:drafts"}),  # all the client and the user may have
        ("read", {"read"}),
        ("read write", {"read"}),  # the viewer may not write
        ("read:drafts write", {"read:drafts"}),
    ],
)
def test_scopes_are_narrowed_to_the_client_and_the_user(state, public, viewer, asked, granted):
    args = {"code_challenge": pkce()[1], "code_challenge_method": "S256"}
    request = authorize(state, public, **args, **({"scope": asked} if asked else {}))
    _, scopes = grants.approve(state, request, viewer)
    assert scopes == granted


@pytest.mark.parametrize(
    ("asked", "message"),
    [("admin", "None of the requested scopes"), ("read everything", "Unknown scope")],
)
def test_a_scope_nobody_can_grant_is_invalid_scope(state, public, asked, message):
    args = {"code_challenge": pkce()[1], "code_challenge_method": "S256", "scope": asked}
    with pytest.raises(OAuthError, match=message) as caught:
        authorize(state, public, **args)
    assert caught.value.error == "invalid_scope"


def test_client_credentials_are_narrowed_to_the_clients_scopes(state):
    client, secret = oauth.create_client(state, "Job", ["read", "write"])
    found = grants.authenticate_client(state, (client.id, secret), {})
    body = grants.exchange(state, found, {"grant_type": "client_credentials", "scope": "write"})
    assert body["scope"] == "write" and "refresh_token" not in body
    with pytest.raises(OAuthError, match="None of the requested scopes"):
        grants.exchange(state, found, {"grant_type": "client_credentials", "scope": "admin"})


@pytest.mark.parametrize(
    ("basic", "form", "error"),
    [
        (("vc_nobody", "x"), {}, "invalid_client"),
        (None, {"client_id": "CLIENT", "client_secret": "wrong"}, "invalid_client"),
        (("CLIENT", "SECRET"), {"client_secret": "SECRET"}, "invalid_request"),
        (("CLIENT", "SECRET"), {"client_id": "vc_other"}, "invalid_request"),
        (None, {"client_id": "CLIENT"}, "invalid_client"),  # a confidential one needs its secret
    ],
    ids=["unknown", "wrong-secret", "two-ways", "two-ids", "no-secret"],
)
def test_client_authentication_failures(state, basic, form, error):
    client, secret = oauth.create_client(state, "Job", ["read"])

    def real(value):
        return {"CLIENT": client.id, "SECRET": secret}.get(value, value)

    basic = tuple(real(v) for v in basic) if basic else None
    with pytest.raises(OAuthError) as caught:
        grants.authenticate_client(state, basic, {k: real(v) for k, v in form.items()})
    assert caught.value.error == error


def test_a_public_client_is_named_by_its_id_and_may_not_send_a_secret(state, public):
    assert grants.authenticate_client(state, None, {"client_id": public.id}) == public
    with pytest.raises(OAuthError, match="public client") as caught:
        grants.authenticate_client(state, None, {"client_id": public.id, "client_secret": "x"})
    assert caught.value.status == 401
