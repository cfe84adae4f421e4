"""The `vellum` command: thin commands over app/ (open the site, call the core, print)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from vellum import server
from vellum.auth import keys, oauth
from vellum.auth import users as accounts
from vellum.auth.limits import check_rate
from vellum.auth.quotas import check_bandwidth
from vellum.auth.users import ROLES
from vellum.cli import export, live, reads, records, state
from vellum.cli.common import _echo_json, json_option, open_site, site_services, with_site
from vellum.errors import VellumError
from vellum.services import Vellum
from vellum.site.config import load_config


@click.group()
@click.option(
    "--site",
    envvar="VELLUM_SITE",
    default=".",
    show_default=True,
    help="Where the site is: this folder or a parent holding vellum.yml, else the"
    " repository's only site. Also VELLUM_SITE.",
)
@click.version_option(package_name="vellum")
@click.pass_context
def cli(ctx: click.Context, site: str) -> None:
    """Vellum: Markdown and JSON in Git, served as a fast REST API."""
    ctx.obj = {"site": site}


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Create a starter site in DIRECTORY (empty or new), committed to the repository that
    holds it, else to a new repository made there."""
    from vellum.store.starter import create_site

    try:
        sha = create_site(directory)
    except VellumError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Created a Vellum site in {directory} (commit {sha[:7]}).")
    click.echo(f"Next: vellum serve {directory}")


@cli.command()
@click.argument("site", required=False)
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 5000).")
@click.option("--workers", type=int, default=None, help="Worker processes (default 2).")
@click.option("--remote", default=None, help="A Git remote to pull from and push writes to.")
@click.option(
    "--poll",
    type=float,
    default=None,
    help="Seconds between fetches of --remote (a replica: 1 unless given).",
)
@click.option(
    "--primary",
    is_flag=True,
    help="Take writes: commit them, then push them to --remote (for the replicas).",
)
@click.option(
    "--replica",
    is_flag=True,
    help="Pull --remote and serve reads; send content writes to --primary-url (307).",
)
@click.option("--primary-url", default=None, help="The primary's base URL, for a replica.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Log lines like gunicorn's (text, the default) or one JSON object per line.",
)
@click.option(
    "--export",
    "export_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep a static export of the read API in this folder, current on every commit.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    site: str | None,
    host,
    port,
    workers,
    remote,
    poll,
    primary: bool,
    replica: bool,
    primary_url,
    log_format,
    export_dir,
) -> None:
    """Serve SITE (default: --site) with a production WSGI server: alone, or as the primary
    or a replica of machines sharing one Git remote."""
    if primary and replica:
        raise click.UsageError("Choose one of --primary and --replica, not both.")
    overrides = {"SITE": site or ctx.obj["site"]}
    if primary or replica:
        overrides["ROLE"] = "primary" if primary else "replica"
    if export_dir is not None:
        overrides["EXPORT"] = str(export_dir.absolute())
    options = (
        ("HOST", host),
        ("PORT", port),
        ("WORKERS", workers),
        ("REMOTE", remote),
        ("PRIMARY_URL", primary_url),
        ("LOG_FORMAT", log_format),
    )
    overrides.update({key: value for key, value in (*options, ("POLL", poll)) if value is not None})
    try:
        prepared = server.prepare(load_config(overrides))
    except (VellumError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    report = prepared.report
    click.echo(
        f"Indexed {prepared.title}: {report.reindexed} parsed, {report.unchanged} unchanged "
        f"in {report.seconds:.2f}s"
    )
    server.serve(prepared.config, announce=click.echo)


@cli.command()
@click.option("--rebuild", is_flag=True, help="Parse every file again, not just changed ones.")
@click.option("--text-only", is_flag=True, hidden=True)
@json_option
@click.pass_context
def index(ctx: click.Context, rebuild: bool, text_only: bool, as_json: bool) -> None:
    """Bring the index up to date with the files (only changed files are parsed)."""
    try:
        vellum = open_site(ctx.obj["site"])
    except VellumError as exc:
        raise click.ClickException(exc.message) from exc
    try:
        if text_only:
            vellum.sync_text()
            return
        if as_json:
            report = vellum.sync(rebuild=rebuild, text=False)
        else:
            total = sum(1 for _ in _scan(vellum))
            with click.progressbar(length=total, label="Indexing", file=sys.stderr) as bar:
                report = vellum.sync(rebuild=rebuild, text=False, progress=bar.update)
        written = vellum.sync_text(parallel=True)
    except VellumError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        vellum.close()
    if as_json:
        _echo_json({**report.as_dict(), "textIndexed": written})
    else:
        click.echo(
            f"{report.added} added, {report.updated} updated, {report.removed} removed, "
            f"{report.unchanged} unchanged; {written} written to full text"
            + (" (full rebuild)" if report.rebuilt else "")
        )


def _scan(vellum: Vellum):
    from vellum.store.records import scan

    return scan(vellum.site)


@cli.command()
@json_option
@with_site
def validate(vellum: Vellum, as_json: bool) -> None:
    """Check every file and model; exit 1 with one line per problem when anything is invalid."""
    problems = vellum.problems()
    if as_json:
        _echo_json({"valid": not problems, "problems": [p.as_dict() for p in problems]})
    else:
        for problem in problems:
            click.echo(str(problem))
        if not problems:
            click.echo("All records are valid.")
    if problems:
        sys.exit(1)


@cli.command()
def schema() -> None:
    """Print vellum.yml's JSON Schema, for editors (see the README: editing vellum.yml)."""
    from vellum.site.schema import json_schema

    _echo_json(json_schema())


@cli.group()
def users() -> None:
    """Accounts: who may sign in, and with which role."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(sorted(ROLES)), default="viewer", show_default=True)
@click.option("--email", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@json_option
@click.pass_context
def users_add(ctx, name: str, role: str, email, password_stdin: bool, as_json: bool) -> None:
    """Add a user; the password is prompted for (or read from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with site_services(ctx) as vellum:
        user = accounts.create_user(vellum.state, name, password, role, email)
    _show(user.as_dict(), as_json, f"Added {user.name} ({user.role}).")


@users.command("list")
@json_option
@click.pass_context
def users_list(ctx, as_json: bool) -> None:
    """List users, their roles and their failed sign-ins that still count."""
    with site_services(ctx) as vellum:
        found = accounts.list_users(vellum.state)
        found = accounts.with_failures(vellum.state, found, vellum.lockout)
    rows = [u.as_dict() for u in found]
    if as_json:
        _echo_json({"data": rows})
        return
    for row in rows:
        line = f"{row['id']}\t{row['name']}\t{row['role']}\t{row['email'] or ''}"
        click.echo(line + _failures(row["failedSignIns"]))


def _failures(failed: dict) -> str:
    """A column such as '3 failed sign-ins (last … from …); locked until …', or nothing."""
    if not failed["count"]:
        return ""
    said = f"\t{failed['count']} failed sign-ins (last {failed['lastAt']} from {failed['lastIp']})"
    return said + (f"; locked until {failed['lockedUntil']}" if failed["lockedUntil"] else "")


@users.command("remove")
@click.argument("name")
@click.pass_context
def users_remove(ctx, name: str) -> None:
    """Remove a user (never the last admin)."""
    with site_services(ctx) as vellum:
        user = accounts.delete_user(vellum.state, name)
    click.echo(f"Removed {user.name}.")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(sorted(ROLES)))
@click.pass_context
def users_set_role(ctx, name: str, role: str) -> None:
    """Change a user's role."""
    with site_services(ctx) as vellum:
        user = accounts.update_user(vellum.state, name, role=role)
    click.echo(f"{user.name} is now {user.role}.")


@cli.group(name="keys")
def keys_group() -> None:
    """API keys: create, list, show, rotate, revoke."""


@keys_group.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(keys.SCOPES), default=["read"])
@click.option("--expires", default=None, help="Lifetime such as 30d, 12h (default: never).")
@click.option("--ip", "ips", multiple=True, help="Allowed IP or CIDR (repeatable).")
@click.option("--usage-limit", type=int, default=None, help="Requests allowed in all.")
@click.option("--rate-limit", default=None, help="e.g. '100 per minute' (default: the site's).")
@click.option("--connections", type=int, default=None, help="Requests in flight at once.")
@click.option("--bandwidth", default=None, help="e.g. '1 GB per hour' (default: the site's).")
@json_option
@click.pass_context
def keys_create(ctx, name, scopes, expires, ips, usage_limit, rate_limit, as_json, **quotas):
    """Create a key; its secret is printed once and cannot be shown again."""
    with site_services(ctx) as vellum:
        key, secret = keys.create_key(
            vellum.state,
            name,
            list(scopes),
            expires_in=keys.parse_duration(expires, "expires"),
            allowed_ips=list(ips),
            usage_limit=usage_limit,
            rate_limit=check_rate(rate_limit, "rate-limit") if rate_limit else None,
            connections=quotas["connections"],
            bandwidth=check_bandwidth(quotas["bandwidth"], "bandwidth") and quotas["bandwidth"],
            created_by="cli",
        )
    _show({**key.as_dict(), "key": secret}, as_json, f"{key.prefix} created. Key (shown once):")
    if not as_json:
        click.echo(secret)


@keys_group.command("list")
@json_option
@click.pass_context
def keys_list(ctx, as_json: bool) -> None:
    """List keys with their usage."""
    with site_services(ctx) as vellum:
        rows = [k.as_dict() for k in keys.list_keys(vellum.state)]
    if as_json:
        _echo_json({"data": rows})
        return
    for row in rows:
        state = "active" if row["active"] else "revoked"
        used = row["usage"]
        click.echo(
            f"{row['id']}\t{row['name']}\t{','.join(row['scopes'])}\t{state}\t"
            f"{used['requests']} requests\tlast {used['lastUsedAt'] or 'never'}"
        )


@keys_group.command("show")
@click.argument("key_id")
@json_option
@click.pass_context
def keys_show(ctx, key_id: str, as_json: bool) -> None:
    """Show one key and its recent activity."""
    with site_services(ctx) as vellum:
        row = keys.get_key(vellum.state, key_id).as_dict()
        row["activity"] = keys.activity(vellum.state, key_id, limit=20)
    if as_json:
        _echo_json({"data": row})
        return
    for name in ("id", "name", "scopes", "expiresAt", "allowedIps", "usageLimit", "usage"):
        click.echo(f"{name}: {orjson.dumps(row[name]).decode()}")
    for event in row["activity"]:
        click.echo(
            f"  {event['at']} {event['ip']} {event['method']} {event['path']} {event['status']}"
        )


@keys_group.command("rotate")
@click.argument("key_id")
@click.option("--grace", default="24h", show_default=True, help="How long the old secret works.")
@json_option
@click.pass_context
def keys_rotate(ctx, key_id: str, grace: str, as_json: bool) -> None:
    """Give a key a new secret; the old one keeps working for the grace period."""
    with site_services(ctx) as vellum:
        seconds = keys.parse_duration(grace, "grace", zero=True)
        key, secret = keys.rotate_key(vellum.state, key_id, seconds)
    _show({**key.as_dict(), "key": secret}, as_json, f"{key.prefix} rotated. New key (shown once):")
    if not as_json:
        click.echo(secret)


@keys_group.command("revoke")
@click.argument("key_id")
@click.pass_context
def keys_revoke(ctx, key_id: str) -> None:
    """Revoke a key at once."""
    with site_services(ctx) as vellum:
        key = keys.revoke_key(vellum.state, key_id)
    click.echo(f"{key.prefix} revoked.")


def _show(payload: dict, as_json: bool, message: str) -> None:
    if as_json:
        _echo_json({"data": payload})
    else:
        click.echo(message)


@cli.group()
def apps() -> None:
    """OAuth2 applications (clients) that may ask for tokens at /oauth/token."""


@apps.command("add")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, help="read, read:drafts, write, admin.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact URI (repeatable).")
@click.option("--public", is_flag=True, help="A browser or native app: no secret, PKCE.")
@click.option("--grant", "grants", multiple=True, type=click.Choice(oauth.GRANTS))
@json_option
@click.pass_context
def apps_add(ctx, name: str, scopes, redirect_uris, public: bool, grants, as_json: bool) -> None:
    """Register an application; prints its client id and secret (shown once)."""
    scopes = [s for value in scopes for s in value.replace(",", " ").split()] or ["read"]
    with site_services(ctx) as vellum:
        client, secret = oauth.create_client(
            vellum.state, name, scopes, redirect_uris, public=public, grants=grants or None
        )
    _show({**client.as_dict(), "secret": secret}, as_json, f"Added application {client.name}.")
    if not as_json:
        click.echo(f"client_id: {client.id}")
        if secret:
            click.echo(f"client_secret (shown once, store it now): {secret}")


@apps.command("list")
@json_option
@click.pass_context
def apps_list(ctx, as_json: bool) -> None:
    """List registered applications."""
    with site_services(ctx) as vellum:
        rows = [c.as_dict() for c in oauth.list_clients(vellum.state)]
    if as_json:
        _echo_json({"data": rows})
        return
    for row in rows:
        click.echo(
            f"{row['id']}\t{row['name']}\t{row['type']}\t{','.join(row['scopes'])}\t"
            f"{','.join(row['grants'])}"
        )


@apps.command("remove")
@click.argument("client_id")
@click.pass_context
def apps_remove(ctx, client_id: str) -> None:
    """Remove an application; its tokens stop working."""
    with site_services(ctx) as vellum:
        client = oauth.delete_client(vellum.state, client_id)
    click.echo(f"Removed application {client.name} ({client.id}).")


for command in reads.COMMANDS + records.COMMANDS + live.COMMANDS + export.COMMANDS + state.COMMANDS:
    cli.add_command(command)


if __name__ == "__main__":
    cli()
