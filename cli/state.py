"""`vellum migrate`: bring the state database to the revision this Vellum needs."""

from __future__ import annotations

import click

from vellum.cli.common import _echo_json, json_option
from vellum.errors import VellumError
from vellum.services import state_target
from vellum.site.config import load_config
from vellum.store import migrate as migrations


@click.command()
@click.option("--status", "show_status", is_flag=True, help="Say where it stands; change nothing.")
@json_option
@click.pass_context
def migrate(ctx: click.Context, show_status: bool, as_json: bool) -> None:
    """Run the pending migrations of the state (VELLUM_STATE_URL, else the state folder's
    SQLite file). Run it once, from one machine, before a new Vellum serves a shared state."""
    try:
        url = state_target(load_config({"SITE": ctx.obj["site"]}))
        found = migrations.status(url)
        done = [] if show_status else migrations.upgrade(url)
        after = found if show_status else migrations.status(url)
    except VellumError as exc:
        raise click.ClickException(exc.message) from exc
    except Exception as exc:  # the database refused or cannot be reached: say so, briefly
        raise click.ClickException(f"Cannot migrate the state: {exc}") from exc
    if as_json:
        _echo_json({"current": after.current, "head": after.head, "done": done})
    elif show_status:
        click.echo(_describe(found))
    else:
        for line in done:
            click.echo(line[:1].upper() + line[1:] + ".")
        click.echo(f"State at revision {after.current}" + ("." if done else "; nothing to do."))


def _describe(found: migrations.Status) -> str:
    """One line: the current revision, the head, and what `vellum migrate` would do."""
    current = found.current or ("an earlier Vellum's, unstamped" if found.legacy else "none")
    line = f"Current revision: {current}; head: {found.head}"
    if not found.behind:
        return f"{line}; up to date."
    if found.current is not None and found.current not in migrations.known():
        return f"{line}; made by a newer Vellum: upgrade Vellum."
    pending = migrations.pending(migrations.FIRST if found.legacy else found.current)
    names = ", ".join(revision.revision for revision in pending)
    return f"{line}; pending: {names or 'none'} (run `vellum migrate`)."


COMMANDS = (migrate,)
