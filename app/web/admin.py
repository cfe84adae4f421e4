"""The /admin pages: admin sign-in and users; API keys and OAuth apps are nested blueprints.

Server-rendered, no JavaScript. A view parses the form, calls the core and renders;
an error from the core is shown on the page it came from. Every POST carries the
session's CSRF token, checked before anything else happens.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, flash, g, redirect, render_template, request, url_for

from vellum.auth import access, limits, users
from vellum.context import current_vellum
from vellum.errors import VellumError
from vellum.store.state import StateStore
from vellum.web import admin_apps, admin_keys
from vellum.web import session as web

SIGN_IN_LIMIT = "10 per minute"  # Argon2 is slow on purpose: don't let anyone spin it
OPEN_ENDPOINTS = frozenset({"admin.sign_in_form", "admin.sign_in"})

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.register_blueprint(admin_keys.bp)
bp.register_blueprint(admin_apps.bp)


def init_app(app: Flask) -> None:
    """Mount /admin; signed-in pages skip the API's per-IP budget, sign-in has its own."""
    app.register_blueprint(bp)
    limits.exempt(app, bp)
    limits.limit_view(app, "admin.sign_in", SIGN_IN_LIMIT)


def state() -> StateStore:
    """The site's state store (users, keys, clients)."""
    return current_vellum().state


def page(template: str, status: int = 200, **context) -> tuple[str, int]:
    """Render one of the admin templates with this status."""
    return render_template(f"admin/{template}", **context), status


@bp.before_request
def guard() -> Response | tuple[str, int] | None:
    """Check the CSRF token of every POST, then that an admin is signed in."""
    if request.method == "POST":
        web.check_csrf()
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    user = web.signed_in_user(state())
    if user is None:
        return redirect(url_for("admin.sign_in_form"))
    if user.role != "admin":
        web.sign_out()
        return page("sign_in.html", 403, refusal=f"{user.name} is no longer an admin.")
    g.admin = user
    return None


# Pages show secrets and account data, and their buttons revoke and remove: never cached,
# never framed by another site.
bp.after_request(web.harden)


@bp.app_template_filter("when")
def when(moment: str | None) -> str:
    """A stored timestamp as the pages show it: '2024-06-01 08:00:00 UTC'."""
    return f"{moment.replace('T', ' ')[:19]} UTC" if moment else ""


@bp.get("/")
def index() -> Response:
    return redirect(url_for("admin.keys.list_keys"))


@bp.get("/sign-in")
def sign_in_form() -> tuple[str, int]:
    return page("sign_in.html")


@bp.post("/sign-in")
def sign_in() -> Response | tuple[str, int]:
    """Admins only: a wrong password and a non-admin account are both refused."""
    name = request.form.get("name", "")
    try:
        user = access.sign_in(name, request.form.get("password", ""))
    except users.AccountLocked as exc:
        return page("sign_in.html", 429, refusal=f"{exc.message}.", name=name)
    if user is None:
        return page("sign_in.html", 401, refusal="Wrong name or password.", name=name)
    if user.role != "admin":
        refusal = "Only admins may use this page."
        return page("sign_in.html", 403, refusal=refusal, name=name)
    web.sign_in(user)
    return redirect(url_for("admin.keys.list_keys"), 303)


@bp.post("/sign-out")
def sign_out() -> Response:
    web.sign_out()
    return redirect(url_for("admin.sign_in_form"), 303)


# -- users -----------------------------------------------------------------------------
def users_page(status: int = 200, **context) -> tuple[str, int]:
    """The user list, with each one's failed sign-ins, and the add form."""
    shown = users.with_failures(state(), users.list_users(state()), current_vellum().lockout)
    return page("users.html", status, users=shown, roles=users.ROLES, **context)


@bp.get("/users")
def list_users() -> tuple[str, int]:
    return users_page()


@bp.post("/users")
def add_user() -> Response | tuple[str, int]:
    form = request.form
    try:
        user = users.create_user(
            state(),
            form.get("name", ""),
            form.get("password", ""),
            form.get("role", "viewer"),
            form.get("email", "").strip() or None,
        )
    except VellumError as exc:
        return users_page(exc.status, error=exc, form=form)
    flash(f"Added {user.name} ({user.role}).")
    return redirect(url_for("admin.list_users"), 303)


@bp.post("/users/<int:user_id>/role")
def change_role(user_id: int) -> Response | tuple[str, int]:
    try:
        user = users.update_user(state(), user_id, role=request.form.get("role", ""))
    except VellumError as exc:
        return users_page(exc.status, error=exc)
    flash(f"{user.name} is now {user.role}.")
    return redirect(url_for("admin.list_users"), 303)


@bp.post("/users/<int:user_id>/remove")
def remove_user(user_id: int) -> Response | tuple[str, int]:
    try:
        user = users.delete_user(state(), user_id)
    except VellumError as exc:
        return users_page(exc.status, error=exc)
    flash(f"Removed {user.name}.")
    return redirect(url_for("admin.list_users"), 303)
