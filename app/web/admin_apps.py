"""The /admin/apps pages: OAuth applications; list, register (secret shown once), remove.

The page only parses the form and calls app/oauth.py, which owns how clients are stored.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for

from vellum.auth import keys, oauth
from vellum.context import current_vellum
from vellum.errors import VellumError

bp = Blueprint("apps", __name__, url_prefix="/apps")


def apps_page(status: int = 200, **context) -> tuple[str, int]:
    """Every registered application, and the form to add one."""
    html = render_template(
        "admin/apps.html",
        clients=oauth.list_clients(current_vellum().state),
        scopes=keys.SCOPES,
        grants=oauth.GRANTS,
        **context,
    )
    return html, status


@bp.get("")
def list_apps() -> tuple[str, int]:
    return apps_page()


@bp.post("")
def add_app() -> tuple[str, int]:
    form = request.form
    try:
        client, secret = oauth.create_client(
            current_vellum().state,
            form.get("name", ""),
            form.getlist("scopes"),
            [uri for uri in re.split(r"\s+", form.get("redirectUris", "")) if uri],
            public=form.get("public") == "on",
            grants=form.getlist("grants") or None,
            created_by=g.admin.name,
        )
    except VellumError as exc:
        return apps_page(exc.status, error=exc, form=form)
    return apps_page(201, created=client, secret=secret)


@bp.post("/<client_id>/remove")
def remove_app(client_id: str) -> Response | tuple[str, int]:
    try:
        client = oauth.delete_client(current_vellum().state, client_id)
    except VellumError as exc:
        return apps_page(exc.status, error=exc)
    flash(f"Removed {client.name} ({client.id}): its tokens no longer work.")
    return redirect(url_for("admin.apps.list_apps"), 303)
