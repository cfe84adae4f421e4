"""Helpers every command shares: opening the site, --json, errors as exits."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import click
import orjson

from vellum.errors import VellumError
from vellum.services import Vellum
from vellum.site.config import load_config


def _echo_json(payload) -> None:
    click.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())


def json_option(command):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(command)


def with_site(command):
    """Open the site named by --site / VELLUM_SITE, bring its index up to date, pass it in."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        try:
            vellum = open_site(ctx.obj["site"])
            try:
                vellum.sync()
                return ctx.invoke(command, vellum, *args, **kwargs)
            finally:
                vellum.close()
        except VellumError as exc:
            raise click.ClickException(_describe(exc)) from exc

    return wrapper


def open_site(site: str, **overrides) -> Vellum:
    return Vellum(load_config({"SITE": site, **overrides}))


@contextlib.contextmanager
def site_services(ctx: click.Context) -> Iterator[Vellum]:
    """Open the site for a state-store command (no index sync); domain errors become exits."""
    try:
        vellum = open_site(ctx.obj["site"])
    except VellumError as exc:
        raise click.ClickException(exc.message) from exc
    try:
        yield vellum
    except VellumError as exc:
        raise click.ClickException(_describe(exc)) from exc
    finally:
        vellum.close()


def _describe(exc: VellumError) -> str:
    """The message, then each detail it does not already say."""
    said = [f"{d.field}: {d.message}" if d.field else d.message for d in exc.details]
    details = "; ".join(d for d in said if d not in exc.message)
    return f"{exc.message} ({details})" if details else exc.message
