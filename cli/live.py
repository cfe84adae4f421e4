"""Live commands: the watcher and dispatcher process, webhooks, events and git hooks."""

from __future__ import annotations

import logging
import os
import shlex
import signal
import sys
import threading
from importlib import resources
from importlib.resources.abc import Traversable

import click
import orjson

from vellum import logs
from vellum.cli.common import _echo_json, json_option, site_services
from vellum.live import deliveries, retention, webhooks
from vellum.live.delivery import Clients
from vellum.live.duties import process_alone
from vellum.live.leader import run_live
from vellum.live.webhooks import MissingSecret
from vellum.server import export_loops
from vellum.site.config import load_config
from vellum.store import outbox
from vellum.store.events import Event, check_custom
from vellum.store.staged import staged_problems


@click.command(hidden=True)
@click.option("--parent", type=int, default=None, help="Stop when this process is gone.")
@click.pass_context
def live(ctx: click.Context, parent: int | None) -> None:
    """Run the watcher and the webhook dispatcher once this process holds the site's lock."""
    log_format = load_config()["LOG_FORMAT"]
    logging.basicConfig(level=logging.INFO, handlers=[logs.handler(log_format)])
    logs.configure(log_format)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with site_services(ctx) as vellum:
        alive = lambda: parent is None or os.getppid() == parent  # noqa: E731
        run_live(vellum, stop, alive=alive, extra=export_loops(vellum))


@click.group(name="webhooks")
def webhooks_group() -> None:
    """Webhook endpoints: vellum.yml's and those added here or through the API."""


@webhooks_group.command("list")
@json_option
@click.pass_context
def webhooks_list(ctx, as_json: bool) -> None:
    """List every endpoint with its source (site or api)."""
    with site_services(ctx) as vellum:
        rows = [e.as_dict() for e in webhooks.list_endpoints(vellum)]
    if as_json:
        _echo_json({"data": rows})
        return
    for row in rows:
        click.echo(f"{row['id']}\t{row['source']}\t{row['url']}\t{','.join(row['events'])}")


@webhooks_group.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, help="An event name, * or create/update/delete.")
@click.option("--model", "models", multiple=True, help="Only this model (repeatable).")
@click.option("--secret", default=None, help="The signing secret (whsec_… or any string).")
@click.option("--max-attempts", type=int, default=None)
@json_option
@click.pass_context
def webhooks_add(ctx, url: str, events, models, secret, max_attempts, as_json: bool) -> None:
    """Add an endpoint (stored in the state folder, shown with source api)."""
    spec: dict = {"url": url, "events": list(events) or ["*"], "secret": secret}
    if models:
        spec["models"] = list(models)
    if max_attempts:
        spec["retry"] = {"max_attempts": max_attempts}
    with site_services(ctx) as vellum:
        endpoint = webhooks.create_endpoint(vellum, spec, "cli")
    if as_json:
        _echo_json({"data": endpoint.as_dict()})
    else:
        click.echo(f"Added webhook {endpoint.id} -> {endpoint.url}")


@webhooks_group.command("remove")
@click.argument("webhook_id")
@click.pass_context
def webhooks_remove(ctx, webhook_id: str) -> None:
    """Remove an endpoint added through the CLI or the API."""
    with site_services(ctx) as vellum:
        endpoint = webhooks.delete_endpoint(vellum, webhook_id)
    click.echo(f"Removed webhook {endpoint.id} ({endpoint.url}).")


@webhooks_group.command("test")
@click.argument("webhook_id")
@click.pass_context
def webhooks_test(ctx, webhook_id: str) -> None:
    """POST a signed `ping` event to an endpoint now and show the answer."""
    with site_services(ctx) as vellum:
        endpoint = webhooks.get_endpoint(vellum, webhook_id)
        allow = bool(vellum.config.get("ALLOW_PRIVATE_WEBHOOKS"))
    event = Event("ping", {"webhook": endpoint.id})
    body = orjson.dumps(event.payload())
    try:
        secret = endpoint.signing_secret()
    except MissingSecret as exc:
        raise click.ClickException(str(exc)) from exc
    with Clients(allow) as clients:
        outcome = clients.post(endpoint.url, event.id, body, secret)
    if not outcome.ok:
        raise click.ClickException(f"{outcome.error} after {outcome.duration_ms} ms")
    click.echo(f"{outcome.status} in {outcome.duration_ms} ms")


@webhooks_group.command("deliveries")
@click.argument("webhook_id")
@click.option("--limit", type=int, default=20, show_default=True)
@json_option
@click.pass_context
def webhooks_deliveries(ctx, webhook_id: str, limit: int, as_json: bool) -> None:
    """An endpoint's delivery attempts, newest first."""
    with site_services(ctx) as vellum:
        webhooks.get_endpoint(vellum, webhook_id)
        rows = deliveries.attempts_log(vellum.state, webhook_id, limit)
    if as_json:
        _echo_json({"data": rows})
        return
    for r in rows:
        outcome = r["statusCode"] or r["error"]
        click.echo(f"{r['at']}\t{r['eventId']}\t{r['event']}\t#{r['attempt']}\t{outcome}")


@webhooks_group.command("redeliver")
@click.argument("webhook_id")
@click.argument("event_id")
@click.pass_context
def webhooks_redeliver(ctx, webhook_id: str, event_id: str) -> None:
    """Queue an event for an endpoint again."""
    with site_services(ctx) as vellum:
        endpoint = webhooks.get_endpoint(vellum, webhook_id)
        deliveries.redeliver(vellum.state, endpoint, event_id)
    click.echo(f"Queued {event_id} for {webhook_id}.")


@click.group(name="events")
def events_group() -> None:
    """The event outbox."""


@events_group.command("emit")
@click.argument("name")
@click.option("--data", default="{}", help="The event's data as a JSON object.")
@click.pass_context
def events_emit(ctx, name: str, data: str) -> None:
    """Send a custom event (custom.<name>) to webhooks and the event stream."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--data") from exc
    with site_services(ctx) as vellum:
        event = check_custom(name, parsed)
        outbox.emit(vellum.state, [event])
    click.echo(event.id)


@events_group.command("process")
@click.pass_context
def events_process(ctx) -> None:
    """Bring the index up to date and emit the events of new commits now (git hooks run this;
    with the state shared on PostgreSQL the live process holding the site lease does)."""
    with site_services(ctx) as vellum:
        vellum.sync(text=False)
        count = process_alone(vellum)
    click.echo(f"{count} events")


@click.command()
@json_option
@click.pass_context
def prune(ctx, as_json: bool) -> None:
    """Delete old events, delivery attempts and key activity (vellum.yml's retention:).

    The live process of `vellum serve` does this at start and hourly.
    """
    with site_services(ctx) as vellum:
        counts = retention.prune(vellum.state, retention.retention_of(vellum.site))
    if as_json:
        _echo_json(counts)
        return
    click.echo(
        f"{counts['events']} events, {counts['deliveries']} delivery attempts,"
        f" {counts['activity']} key activity rows, {counts['expired']} expired tokens deleted"
    )


@click.group(name="hooks")
def hooks_group() -> None:
    """Git hook scripts for the site's repository."""


@hooks_group.command("install")
@click.option("--force", is_flag=True, help="Replace hooks that are already there.")
@click.pass_context
def hooks_install(ctx, force: bool) -> None:
    """Write Vellum's git hooks into the repository's hooks folder, set for this site and
    this vellum (existing hooks are kept unless --force)."""
    with site_services(ctx) as vellum:
        target = vellum.repo.git_dir / "hooks"
        site = vellum.repo.relative(vellum.site.root) or "."
    target.mkdir(exist_ok=True)
    for script in _hook_scripts():
        dest = target / script.name
        if dest.exists() and not force:
            click.echo(f"kept {dest} (use --force to replace)")
            continue
        dest.write_text(_for_this_site(script.read_text(), site))
        dest.chmod(0o755)
        click.echo(f"installed {dest}")


def _hook_scripts() -> list[Traversable]:
    """The hook scripts shipped in the package (vellum.hooks), named as Git calls them."""
    shipped = resources.files("vellum.hooks").iterdir()
    return sorted((p for p in shipped if p.is_file() and "." not in p.name), key=lambda p: p.name)


def _for_this_site(script: str, site: str) -> str:
    """A hook that runs the vellum that installed it (by its interpreter, so a virtualenv
    not on the PATH of a commit still works) on the site, relative to the work tree."""
    vellum = [sys.executable, "-m", "vellum.cli"] if sys.executable else ["vellum"]
    return script.replace("@VELLUM@", shlex.join(vellum)).replace("@SITE@", shlex.quote(site))


@hooks_group.command("check-staged")
@click.pass_context
def hooks_check_staged(ctx) -> None:
    """Exit 1, naming each problem, when a staged record file is invalid (the pre-commit hook)."""
    with site_services(ctx) as vellum:
        problems = staged_problems(vellum)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} invalid record file(s): commit refused")


COMMANDS = (live, webhooks_group, events_group, hooks_group, prune)
