"""POST /api/hooks/git: a GitHub or GitLab push webhook makes the server pull at once."""

from __future__ import annotations

import hashlib
import hmac

from flask import Blueprint, Flask, Response, request

from vellum.api.envelope import json_response
from vellum.context import current_vellum
from vellum.errors import Forbidden, NotFound, Unauthorized
from vellum.live.remote import pull

git_hooks = Blueprint("git_hooks", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(git_hooks, url_prefix="/api")
    app.register_blueprint(git_hooks, url_prefix="/api/v1", name="git_hooks_v1")


def check_push_webhook(secret: str, body: bytes, headers) -> None:
    """GitHub signs the body (X-Hub-Signature-256); GitLab sends the token (X-Gitlab-Token)."""
    signature = headers.get("X-Hub-Signature-256")
    token = headers.get("X-Gitlab-Token")
    if signature is not None:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise Unauthorized("The X-Hub-Signature-256 signature does not match")
    elif token is not None:
        if not hmac.compare_digest(token.encode(), secret.encode()):
            raise Forbidden("The X-Gitlab-Token does not match")
    else:
        raise Unauthorized("Send X-Hub-Signature-256 (GitHub) or X-Gitlab-Token (GitLab)")


@git_hooks.post("/hooks/git")
def push_webhook() -> Response:
    vellum = current_vellum()
    secret, remote = vellum.config.get("GIT_WEBHOOK_SECRET"), vellum.config.get("REMOTE")
    if not secret or not remote:
        raise NotFound("Push webhooks need VELLUM_REMOTE and VELLUM_GIT_WEBHOOK_SECRET")
    check_push_webhook(secret, request.get_data(), request.headers)
    outcome = pull(vellum, remote)
    head = vellum.repo.head()
    return json_response({"data": {"remote": remote, "result": outcome, "head": head}})
