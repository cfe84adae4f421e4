"""`vellum export DIR`: the public read API written as static files."""

from __future__ import annotations

from pathlib import Path

import click

from vellum import create_app
from vellum.cli.common import _echo_json, json_option
from vellum.errors import VellumError
from vellum.export.run import Exporter


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--drafts", is_flag=True, help="Export drafts too (the manifest says so).")
@json_option
@click.pass_context
def export(ctx: click.Context, directory: Path, drafts: bool, as_json: bool) -> None:
    """Write the read API into DIRECTORY as files a static server can serve; run again
    after a commit to rewrite only what changed."""
    try:
        app = create_app({"SITE": ctx.obj["site"], "TEXT_INDEX": "background"})
    except VellumError as exc:
        raise click.ClickException(exc.message) from exc
    try:
        report = Exporter(app, directory, drafts=drafts).run()
    except VellumError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        app.extensions["vellum"].close()
    if as_json:
        _echo_json(report.as_dict())
        return
    click.echo(
        f"Exported {report.files} files to {directory} (commit {(report.commit or '-')[:7]}): "
        f"{report.written} written, {report.unchanged} unchanged, {report.deleted} deleted "
        f"in {report.seconds:.2f}s"
    )
    for url in report.skipped:
        click.echo(f"left out {url}: the API does not answer it", err=True)


COMMANDS = (export,)
