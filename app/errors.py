"""One error hierarchy: every failure a client can see, with its HTTP status and code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Detail:
    """One problem inside an error, usually tied to a field or a request parameter."""

    field: str | None
    message: str

    def as_dict(self) -> dict:
        return {"field": _sendable(self.field), "message": _sendable(self.message)}


class VellumError(Exception):
    """Base of every error Vellum reports; renders as the JSON error envelope."""

    status = 500
    code = "INTERNAL_ERROR"

    def __init__(self, message: str, details: list[Detail] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def as_dict(self) -> dict:
        """The documented envelope: {"error": {"code", "message", "details"}}."""
        return {
            "error": {
                "code": self.code,
                "message": _sendable(self.message),
                "details": [d.as_dict() for d in self.details],
            }
        }


def _sendable(text: str | None) -> str | None:
    """Text an error may quote back (a field name a client sent) without a lone surrogate,
    which no UTF-8 answer can carry: it is shown escaped, as `\\ud800`."""
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class BadRequest(VellumError):
    status = 400
    code = "BAD_REQUEST"


class InvalidParameter(BadRequest):
    """A query parameter that cannot be understood; names the parameter."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}", [Detail(param, message)])
        self.param = param


class NotFound(VellumError):
    status = 404
    code = "NOT_FOUND"


class ModelNotFound(NotFound):
    def __init__(self, model: str) -> None:
        super().__init__(f"No model named '{model}'")
        self.model = model


class RecordNotFound(NotFound):
    def __init__(self, model: str, record_id: str) -> None:
        super().__init__(f"No {model} with id '{record_id}'")
        self.model = model
        self.record_id = record_id


class MethodNotAllowed(VellumError):
    status = 405
    code = "METHOD_NOT_ALLOWED"


class Conflict(VellumError):
    status = 409
    code = "CONFLICT"


class PreconditionFailed(VellumError):
    """If-Match named a version that is no longer the current one."""

    status = 412
    code = "PRECONDITION_FAILED"


class ValidationError(VellumError):
    status = 422
    code = "VALIDATION_ERROR"


class ServiceUnavailable(VellumError):
    status = 503
    code = "UNAVAILABLE"


class SiteError(VellumError):
    """The site itself cannot be loaded: no vellum.yml, a broken one, not a Git repo."""

    status = 500
    code = "SITE_ERROR"


class IndexBusy(ServiceUnavailable):
    """Another process holds the index's write lock for longer than we wait."""


class StateNotReady(ServiceUnavailable):
    """The state database is not at the revision this Vellum needs (`vellum migrate`), or
    cannot be reached."""


class Unauthorized(VellumError):
    """No valid credentials: missing, malformed, expired, revoked or wrong."""

    status = 401
    code = "UNAUTHORIZED"


class Forbidden(VellumError):
    """Valid credentials that may not do this (a scope, an IP allow list)."""

    status = 403
    code = "FORBIDDEN"


class RateLimited(VellumError):
    status = 429
    code = "RATE_LIMITED"


class ReadOnlyReplica(VellumError):
    """A content write sent to a replica: answered 307 to the same path on its primary."""

    status = 307
    code = "READ_ONLY_REPLICA"


class NoPrimary(ReadOnlyReplica):
    """A content write sent to a replica that knows no primary to send it on to."""

    status = 503
