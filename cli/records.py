"""Commands that write records and read their history: new, history, diff, restore."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from vellum.cli.common import _echo_json, json_option, with_site
from vellum.errors import ReadOnlyReplica
from vellum.store import history, write_request, writes

if TYPE_CHECKING:
    from vellum.services import Vellum


def _author(vellum: Vellum) -> tuple[str, str]:
    """Commits from the CLI carry the repository's configured Git identity; a replica's
    clone takes none (it never pushes: the commit would stay there)."""
    if vellum.config.get("ROLE") == "replica":
        raise ReadOnlyReplica(
            "This machine is a replica (VELLUM_ROLE=replica): make the change on the primary,"
            " whose push reaches this clone"
        )
    return vellum.repo.identity()


@click.command()
@click.argument("model")
@click.option("--set", "values", multiple=True, help="field=value (a JSON value or plain text).")
@click.option("--body-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--locale", default=None)
@click.option("--message", "-m", default=None, help="The commit message.")
@json_option
@with_site
def new(vellum: Vellum, model: str, values, body_file, locale, message, as_json: bool) -> None:
    """Create a record of MODEL and commit it."""
    fields = dict(_assignment(item) for item in values)
    body = body_file.read_text(encoding="utf-8") if body_file else None
    request = write_request.WriteRequest(
        fields={k: v for k, v in fields.items() if k != "id"},
        body=body,
        locale=locale,
        message=message,
        id=fields.get("id"),
    )
    rec = writes.create(vellum, model, request, _author(vellum))
    if as_json:
        _echo_json(
            {"data": {"id": rec.id, "type": rec.model, "path": rec.path, "version": rec.sha}}
        )
    else:
        click.echo(f"Created {rec.model} {rec.id} ({rec.path}).")


def _assignment(item: str) -> tuple[str, object]:
    import json

    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"expected field=value, got {item!r}", param_hint="--set")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw  # plain text
    if isinstance(value, int | float) and key in {"title", "name", "slug", "id"}:
        value = raw
    return key.strip(), value


@click.command(name="history")
@click.argument("model")
@click.argument("record_id")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--locale", default=None)
@json_option
@with_site
def history_command(
    vellum: Vellum, model: str, record_id: str, limit: int, locale, as_json
) -> None:
    """The versions of a record, newest first."""
    found = history.versions(vellum, model, record_id, locale, limit, 0)
    if as_json:
        _echo_json(found)
        return
    for version in found["data"]:
        mark = " (deleted)" if version["deleted"] else ""
        click.echo(
            f"{version['version'][:10]}  {version['date']}  {version['author']['name']}"
            f"  {version['message']}{mark}"
        )


@click.command()
@click.argument("model")
@click.argument("record_id")
@click.argument("old")
@click.argument("new")
@click.option("--locale", default=None)
@json_option
@with_site
def diff(vellum: Vellum, model: str, record_id: str, old: str, new: str, locale, as_json) -> None:
    """What changed in a record between two versions."""
    found = history.diff(vellum, model, record_id, old, new, locale)
    if as_json:
        _echo_json({"data": found})
        return
    for name, change in found["changes"].items():
        click.echo(f"{name}: {change['old']!r} -> {change['new']!r}")
    if found["body"]:
        click.echo(found["body"])


@click.command()
@click.argument("model")
@click.argument("record_id")
@click.argument("version")
@click.option("--locale", default=None)
@with_site
def restore(vellum: Vellum, model: str, record_id: str, version: str, locale) -> None:
    """Commit a record's content at VERSION as its newest version."""
    rec = history.restore(vellum, model, record_id, version, _author(vellum), locale)
    click.echo(f"Restored {rec.model} {rec.id} to {version[:10]} (now {rec.sha[:10]}).")


COMMANDS = (new, history_command, diff, restore)
