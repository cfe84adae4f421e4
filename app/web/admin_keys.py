"""The /admin/keys pages: API keys with their usage; create, rotate, revoke, activity.

A new or rotated key's secret is rendered once, in the answer to the POST that made
it: the core keeps only its hash, so no page can show it again.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from vellum.auth import keys
from vellum.auth.limits import check_rate
from vellum.context import current_vellum
from vellum.errors import Detail, ValidationError, VellumError
from vellum.store.state import StateStore, parse_iso, utcnow

DEFAULT_GRACE = "24h"
ACTIVITY_ROWS = 50

bp = Blueprint("keys", __name__, url_prefix="/keys")


def state() -> StateStore:
    return current_vellum().state


def key_status(key: keys.ApiKey) -> str:
    """active, revoked or expired: what the list shows."""
    if key.revoked_at:
        return "revoked"
    if key.expires_at and parse_iso(key.expires_at) <= utcnow():
        return "expired"
    return "active"


def key_settings(form: MultiDict) -> dict:
    """The create form's optional settings, in the arguments keys.create_key takes."""
    rate = form.get("rateLimit", "").strip()
    parsers = {
        "expires_in": lambda: keys.parse_duration(form.get("expiresIn", "").strip(), "expiresIn"),
        "allowed_ips": lambda: [ip for ip in re.split(r"[\s,]+", form.get("allowedIps", "")) if ip],
        "usage_limit": lambda: positive_int(form.get("usageLimit", ""), "usageLimit"),
        "rate_limit": lambda: check_rate(rate, "rateLimit") if rate else None,
    }
    settings, details = {}, []
    for name, parse in parsers.items():  # every field's problem at once, not the first only
        try:
            settings[name] = parse()
        except ValidationError as exc:
            details.extend(exc.details)
    if details:
        raise ValidationError("Invalid API key settings", details)
    return settings


def positive_int(text: str, field: str) -> int | None:
    """A whole number from a form field; blank means none."""
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValidationError(f"Invalid {field}", [Detail(field, "must be a positive integer")])
    return int(text)


def list_page(status: int = 200, **context) -> tuple[str, int]:
    """Every key with its usage, and the create form."""
    rows = keys.list_keys(state())
    html = render_template(
        "admin/keys.html", api_keys=rows, key_status=key_status, scopes=keys.SCOPES, **context
    )
    return html, status


def detail_page(key_id: str, status: int = 200, **context) -> tuple[str, int]:
    """One key: its settings, the rotate and revoke forms, and its activity log."""
    key = keys.get_key(state(), key_id)
    log = keys.activity(state(), key.id, limit=ACTIVITY_ROWS)
    html = render_template(
        "admin/key.html",
        key=key,
        key_status=key_status,
        activity=log,
        default_grace=DEFAULT_GRACE,
        **context,
    )
    return html, status


@bp.get("")
def list_keys() -> tuple[str, int]:
    return list_page()


@bp.post("")
def create_key() -> tuple[str, int]:
    form = request.form
    try:
        key, secret = keys.create_key(
            state(),
            form.get("name", ""),
            form.getlist("scopes"),
            created_by=g.admin.name,
            **key_settings(form),
        )
    except VellumError as exc:
        return list_page(exc.status, error=exc, form=form)
    return list_page(201, created=key, secret=secret)


@bp.get("/<key_id>")
def show_key(key_id: str) -> tuple[str, int]:
    try:
        return detail_page(key_id)
    except VellumError as exc:
        return list_page(exc.status, error=exc)


@bp.post("/<key_id>/rotate")
def rotate_key(key_id: str) -> tuple[str, int]:
    grace_text = request.form.get("grace", "").strip() or DEFAULT_GRACE
    try:
        grace = keys.parse_duration(grace_text, "grace", zero=True)
        key, secret = keys.rotate_key(state(), key_id, grace)
    except VellumError as exc:
        return _failed(key_id, exc)
    return detail_page(key.id, secret=secret)


@bp.post("/<key_id>/revoke")
def revoke_key(key_id: str) -> Response | tuple[str, int]:
    try:
        key = keys.revoke_key(state(), key_id)
    except VellumError as exc:
        return _failed(key_id, exc)
    flash(f"Revoked {key.name} ({key.prefix}): it no longer works.")
    return redirect(url_for("admin.keys.list_keys"), 303)


def _failed(key_id: str, error: VellumError) -> tuple[str, int]:
    """Back to the key's page with the error, or to the list when there is no such key."""
    try:
        return detail_page(key_id, error.status, error=error)
    except keys.KeyNotFound:
        return list_page(error.status, error=error)
