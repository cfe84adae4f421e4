"""vellum.yml's sections beyond the models, checked together.

Each section is read (and checked) where it is used — rate limits when the app starts,
webhooks when the dispatcher runs, retention when the pruner does. Checking them all here
lets `vellum validate` and `/api/_status` report a mistake before a server trips on it,
and names a top-level key nobody reads (a typo such as `retenton:`).
"""

from __future__ import annotations

from collections.abc import Callable

from vellum.auth import limits, users
from vellum.errors import SiteError, VellumError
from vellum.graphql.limits import limits_of
from vellum.live import retention, webhooks
from vellum.site.site import CONFIG_FILE, Site
from vellum.store import media
from vellum.store.records import Problem

KNOWN = (
    "title description models locales default_locale default_model auth media rate_limits"
    " limits cors graphql webhooks retention"
).split()


def settings_problems(site: Site) -> list[Problem]:
    """One problem per unknown key or wrong section of vellum.yml."""
    found = [
        Problem(CONFIG_FILE, f"unknown setting '{key}' (known: {', '.join(KNOWN)})")
        for key in sorted(set(site.settings) - set(KNOWN))
    ]
    checks: list[Callable[[], object]] = [
        lambda: _check_auth(site),
        lambda: _check_default_model(site),
        lambda: media.settings(site),
        lambda: limits.settings_of(site),  # rate_limits, limits, cors
        lambda: limits_of(site),  # graphql
        lambda: webhooks.site_endpoints(site),
        lambda: retention.retention_of(site),
    ]
    for check in checks:
        try:
            check()
        except VellumError as exc:
            details = "; ".join(f"{d.field}: {d.message}" for d in exc.details)
            message = exc.message.removeprefix(f"{CONFIG_FILE}: ")
            found.append(Problem(CONFIG_FILE, f"{message}{': ' + details if details else ''}"))
    return found


def _check_auth(site: Site) -> None:
    auth = site.settings.get("auth") or {}
    if not isinstance(auth, dict) or not isinstance(auth.get("public_read", False), bool):
        raise SiteError(f"{CONFIG_FILE}: auth.public_read must be true or false")
    users.lockout_of(site.settings)


def _check_default_model(site: Site) -> None:
    name = site.settings.get("default_model")
    if name is not None and name not in site.models:
        raise SiteError(
            f"{CONFIG_FILE}: default_model '{name}' is not a model ({', '.join(site.models)})"
        )
