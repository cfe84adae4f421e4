"""vellum.yml's sections beyond the models, checked together.

The schema (vellum.site.schema) checks every key and type of every section, and names a key
nobody reads (a typo such as `retenton:`) with the line it is on. What needs more than
vellum.yml to check is checked where it is used, and gathered here: a rate limit's notation
and a bandwidth limit's, a webhook's URL and event names, `default_model` among the inferred models.
Checking them all here lets `vellum validate` and `/api/_status` report a mistake before a
server trips on it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from vellum.auth import limits
from vellum.errors import SiteError, VellumError
from vellum.live import webhooks
from vellum.site.schema import ConfigError
from vellum.site.site import CONFIG_FILE, Site
from vellum.store.records import Problem


def settings_problems(site: Site) -> list[Problem]:
    """One problem per mistake in vellum.yml's settings, in the order of its lines."""
    found = [Problem(CONFIG_FILE, p.message, p.line) for p in site.setting_problems()]
    checks: list[tuple[tuple, Callable[[], object]]] = [
        (("default_model",), lambda: _check_default_model(site)),
        ((), lambda: limits.settings_of(site)),  # rate and bandwidth limits in their notation
    ]
    entries = site.settings.get("webhooks")
    for n in range(len(entries) if isinstance(entries, list) else 0):
        checks.append((("webhooks", n), functools.partial(webhooks.site_endpoint, site, n)))
    for at, check in checks:
        try:
            check()
        except ConfigError:
            continue  # a mistake the schema has named already
        except VellumError as exc:
            found.append(_problem(site, at, exc))
    return sorted(found, key=lambda p: p.line or 0)


def config_problems(error: SiteError | None) -> list[tuple[int | None, str]]:
    """(line, message) for each mistake that keeps vellum.yml from loading."""
    if error is None:
        return []
    if isinstance(error, ConfigError):
        return [(p.line, p.message) for p in error.problems]
    return [(None, error.message.removeprefix(f"{CONFIG_FILE}: "))]


def _problem(site: Site, at: tuple, exc: VellumError) -> Problem:
    """A check's error as a problem on the line of the setting it names."""
    details = "; ".join(f"{d.field}: {d.message}" for d in exc.details)
    message = exc.message.removeprefix(f"{CONFIG_FILE}: ")
    named = exc.details[0].field if exc.details and exc.details[0].field else None
    line = site.line_of((*at, *named.split("."))) if named else site.line_of(at)
    return Problem(CONFIG_FILE, f"{message}{': ' + details if details else ''}", line)


def _check_default_model(site: Site) -> None:
    name = site.setting("default_model")
    if name is not None and name not in site.models:
        raise SiteError(
            f"{CONFIG_FILE}: default_model '{name}' is not a model ({', '.join(site.models)})"
        )
