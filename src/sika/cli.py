"""The ``sika`` command: run, worker, migrate, keys (and more as domains land)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import ipaddress
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from sika import demo as demo_walk
from sika import worker as jobs_worker
from sika.app import DASHBOARD_PATH, create_app
from sika.auth import service as auth_service
from sika.auth.scopes import Scope
from sika.core import clock, db, invariants, migrate, paging, serving
from sika.core import logging as sika_logging
from sika.core.config import Environment, InsecureSettings, Settings, get_settings, reference_markdown
from sika.core.context import Actor
from sika.payments import service as payments_service
from sika.platforms import schemas as platforms_schemas
from sika.platforms import service as platforms_service
from sika.platforms.models import Platform
from sika.providers import registry as provider_registry
from sika.sandbox import app as sandbox_app
from sika.system import service as system_service

app = typer.Typer(help="Sika: money movement on a double-entry ledger.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
platforms_app = typer.Typer(
    help="Platforms (tenants): each owns its parties and everything under them.", no_args_is_help=True
)
app.add_typer(platforms_app, name="platforms")
docs_app = typer.Typer(help="Reference documents generated from the code.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")
console = Console()
err_console = Console(stderr=True)

CLI_ACTOR = Actor(id="cli", scopes=frozenset({Scope.admin.value}))
ADMIN_KEY_FILE = "admin-key"
LISTEN_BACKLOG = 2048
"""uvicorn's own default."""
STARTED_POLL_SECONDS = 0.05


def _settings() -> Settings:
    settings = get_settings()
    try:
        settings.check_safe_to_start()
    except InsecureSettings as exc:
        err_console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(2) from None
    return settings


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _database(settings: Settings) -> Iterator[str]:
    """The database URL; an embedded server is started for the block if needed.

    SIGTERM becomes an exception so that this block's cleanup runs: uvicorn re-raises
    the signal it caught after its graceful shutdown, and the default action would
    kill the process before the embedded PostgreSQL is stopped."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    url, embedded = db.resolve_database_url(settings.DATABASE_URL, settings.PGDATA_DIR)
    try:
        yield url
    finally:
        if embedded is not None:
            embedded.stop()


@contextlib.asynccontextmanager
async def _session(url: str) -> AsyncIterator[AsyncSession]:
    """One transaction on a one-connection engine, for a CLI command's unit of work."""
    engine = db.make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with db.transaction(db.make_sessionmaker(engine)) as session:
            yield session
    finally:
        await engine.dispose()


async def _ensure_admin_key(url: str, settings: Settings) -> str | None:
    async with _session(url) as session:
        if await auth_service.any_admin_key(session, now=clock.now()):
            return None
        created = await auth_service.create_key(
            session, name="first admin", scopes=[Scope.admin.value], expires_at=None, actor=CLI_ACTOR
        )
        return created.secret


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse_exposed_development(settings: Settings, *, hosts: list[str], insecure_dev: bool) -> None:
    """Outside production the secrets live in the data folder, the sandbox signs webhooks and
    the API docs are open: fine on a laptop, not on a network, unless the operator says so."""
    exposed = sorted({host for host in hosts if not _is_loopback(host)})
    if settings.ENV is Environment.production or not exposed or insecure_dev:
        return
    err_console.print(
        f"[bold red]Refusing to serve SIKA_ENV={settings.ENV.value} on {', '.join(exposed)}:[/] "
        "outside production Sika is not safe to expose (development secrets, the sandbox, open API docs). "
        "Bind to 127.0.0.1, set SIKA_ENV=production with real secrets, or pass --insecure-dev "
        "if you really mean it."
    )
    raise typer.Exit(2)


@app.command()
def run(
    host: Annotated[str | None, typer.Option(help="Address for the API.")] = None,
    port: Annotated[int | None, typer.Option(help="Port for the API.")] = None,
    worker_concurrency: Annotated[int, typer.Option(help="Jobs run at once by the worker process.")] = 4,
    insecure_dev: Annotated[
        bool,
        typer.Option(
            "--insecure-dev",
            help="Serve outside production on a non-loopback address anyway (never on a network you do not trust).",
        ),
    ] = False,
) -> None:
    """Migrate, then serve the API, with the job worker in a process of its own."""
    settings = _settings()
    sika_logging.configure()
    host = host or settings.HOST
    port = port or settings.PORT
    served = [host] if settings.ENV is Environment.production else [host, settings.SANDBOX_HOST]
    _refuse_exposed_development(settings, hosts=served, insecure_dev=insecure_dev)
    listening: list[socket.socket] = []
    try:
        listening.append(_listen(host, port, setting="SIKA_PORT (or --port)"))
        if settings.ENV is not Environment.production:
            listening.append(_listen(settings.SANDBOX_HOST, settings.SANDBOX_PORT, setting="SIKA_SANDBOX_PORT"))
        with _database(settings) as url:
            migrate.upgrade(url)
            secret = asyncio.run(_ensure_admin_key(url, settings))
            key_file = _save_admin_key(settings, secret) if secret is not None else None
            banner = functools.partial(_print_banner, settings, host=host, port=port, secret=secret, key_file=key_file)
            serve = _serve(
                settings, url, listening, host=host, port=port, worker_concurrency=worker_concurrency, on_up=banner
            )
            serving.run(serve)
    finally:
        for sock in listening:
            sock.close()


def _listen(host: str, port: int, *, setting: str) -> socket.socket:
    """A socket bound and listening now, before anything starts: a port already taken
    is one plain line (and exit code 2), and whatever prints "up" is true."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        _refuse_to_listen(f"Cannot listen on {host}:{port} ({exc.strerror or exc}): change {setting}.")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            _refuse_to_listen(f"Port {port} on {host} is already in use: set {setting} to a free port.")
        _refuse_to_listen(f"Cannot listen on {host}:{port} ({exc.strerror or exc}): change {setting}.")
    return sock


def _refuse_to_listen(message: str) -> NoReturn:
    err_console.print(message, style="bold red", soft_wrap=True, highlight=False)
    raise typer.Exit(2)


def _save_admin_key(settings: Settings, secret: str) -> Path:
    key_file = (settings.local_dir / ADMIN_KEY_FILE).absolute()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(secret + "\n")
    os.chmod(key_file, 0o600)
    return key_file


def _print_banner(settings: Settings, *, host: str, port: int, secret: str | None, key_file: Path | None) -> None:
    base = f"http://{host}:{port}"
    console.rule("[bold green]Sika is up")
    console.print(f"API        {base}/v1   (docs: {base}/docs)")
    console.print(f"Dashboard  {base}{DASHBOARD_PATH}/   (admin or support key)")
    console.print(f"Readiness  {base}/ready")
    console.print(f"Metrics    {base}/metrics")
    console.print(f"Serving    {serving.described()}")
    if settings.ENV is not Environment.production:
        console.print(f"Sandbox    http://{settings.SANDBOX_HOST}:{settings.SANDBOX_PORT}/_sandbox/docs")
    if secret is not None:
        console.print(f"[bold yellow]First admin key (shown once, also in {key_file}):[/] {secret}", soft_wrap=True)


async def _serve(
    settings: Settings,
    url: str,
    listening: list[socket.socket],
    *,
    host: str,
    port: int,
    worker_concurrency: int,
    on_up: Callable[[], None],
) -> None:
    api = create_app(settings, database_url=url)
    jobs_worker.build(url)
    # Which proxy may name the client is SIKA_TRUSTED_PROXIES' call alone, not uvicorn's.
    config = uvicorn.Config(
        api, host=host, port=port, http=serving.HTTP_PARSER, log_config=None, access_log=False, proxy_headers=False
    )
    servers = [uvicorn.Server(config)]
    if len(listening) > 1:
        # The sandbox posts its webhooks to this very API unless told otherwise.
        target = settings.SANDBOX_WEBHOOK_TARGET or f"http://{host}:{port}/v1/webhooks"
        servers.append(sandbox_app.build_server(settings, webhook_target=target, embedded=True))
    worker = serving.start_worker(url, concurrency=worker_concurrency)
    serving.tune_garbage_collection()
    # The API serves in this very coroutine: the SIGTERM its uvicorn re-raises after a
    # graceful shutdown must come out here, where the finally below stops the rest.
    beside = [
        asyncio.create_task(server.serve([sock])) for server, sock in zip(servers[1:], listening[1:], strict=True)
    ]
    announce = asyncio.create_task(_announce_when_up(settings, servers, on_up))
    try:
        await servers[0].serve([listening[0]])
    finally:
        announce.cancel()
        for server in servers[1:]:
            server.should_exit = True
        await asyncio.gather(announce, *beside, return_exceptions=True)
        if not await asyncio.to_thread(serving.stop_worker, worker):
            err_console.print(
                f"The worker did not stop within {serving.WORKER_STOP_SECONDS:g} s: killed.", style="bold yellow"
            )


async def _announce_when_up(settings: Settings, servers: list[uvicorn.Server], on_up: Callable[[], None]) -> None:
    # uvicorn says it has started with a flag, not an event.
    while not all(server.started for server in servers):  # noqa: ASYNC110
        await asyncio.sleep(STARTED_POLL_SECONDS)
    on_up()
    await _warn_of_unreachable_providers(settings)


async def _warn_of_unreachable_providers(settings: Settings) -> None:
    """One line at start, rather than a first collection failing with no_provider_available."""
    found = await system_service.provider_reachability(settings, wait_seconds=settings.PROVIDER_CONNECT_TIMEOUT_SECONDS)
    down = [f"{it.provider} at {it.base_url} ({it.error}; {it.setting})" for it in found if not it.reachable]
    if down:
        err_console.print(
            f"Warning: unreachable at start: {', '.join(down)}. Collections through them fail until they answer.",
            style="bold yellow",
            soft_wrap=True,
            highlight=False,
        )


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Jobs run at once.")] = 4,
    queue: Annotated[list[str] | None, typer.Option(help="Only these queues (repeatable).")] = None,
) -> None:
    """Run a worker on its own (run as many as you like, on any host)."""
    settings = _settings()
    sika_logging.configure()
    with _database(settings) as url:
        serving.tune_garbage_collection()
        serving.run(jobs_worker.run_worker(settings, database_url=url, concurrency=concurrency, queues=queue))


@app.command()
def sandbox(
    host: Annotated[str | None, typer.Option(help="Address for the sandbox (SANDBOX_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port for the sandbox (SANDBOX_PORT).")] = None,
    webhook_target: Annotated[
        str | None, typer.Option(help="Base URL for webhooks, posted to <target>/<provider>.")
    ] = None,
) -> None:
    """Serve the PSP sandbox: fake Paystack, FedaPay and Stripe for development and tests."""
    settings = get_settings()
    sika_logging.configure()
    try:
        server = sandbox_app.build_server(settings, host=host, port=port, webhook_target=webhook_target)
    except sandbox_app.SandboxRefused as exc:
        err_console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(2) from None
    base = f"http://{server.config.host}:{server.config.port}"
    console.rule("[bold green]PSP sandbox is up")
    console.print(f"Paystack   {base}/paystack")
    console.print(f"FedaPay    {base}/fedapay")
    console.print(f"Stripe     {base}/stripe")
    console.print(f"Admin      {base}/_sandbox   (docs: {base}/_sandbox/docs)")
    console.print(f"Webhooks   {sandbox_app.webhook_target(server)}/<provider>")
    server.run()


@app.command("migrate")
def migrate_command(
    action: Annotated[str, typer.Argument(help="up, down or current")] = "up",
    revision: Annotated[str | None, typer.Argument(help="Target revision (default: head for up, -1 for down)")] = None,
) -> None:
    """Apply, roll back or show schema migrations."""
    settings = _settings()
    with _database(settings) as url:
        if action == "up":
            migrate.upgrade(url, revision or "head")
        elif action == "down":
            migrate.downgrade(url, revision or "-1")
        elif action == "current":
            console.print(asyncio.run(_current(url)) or "(empty database)")
        else:
            err_console.print(f"Unknown action {action!r}: use up, down or current.")
            raise typer.Exit(2)


async def _current(url: str) -> str | None:
    engine = db.make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(migrate.current_revision)
    finally:
        await engine.dispose()


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for.")],
    scope: Annotated[list[Scope], typer.Option(help="Scope (repeatable).")],
    expires_at: Annotated[datetime | None, typer.Option(help="Expiry in UTC, e.g. 2027-01-31T18:00:00.")] = None,
    platform: Annotated[
        str | None,
        typer.Option(
            help="The platform (plt_…) the key acts for. A platform key always has one (the only platform "
            "when left out); a support, read or admin key without one is global: it sees every platform."
        ),
    ] = None,
) -> None:
    """Create an API key; its secret is printed once."""
    settings = _settings()
    if expires_at is not None:
        expires_at = expires_at.replace(tzinfo=UTC)
        if expires_at <= clock.now():
            err_console.print(f"--expires-at {expires_at.isoformat()} is already past.")
            raise typer.Exit(2)

    async def create(url: str) -> auth_service.CreatedKey:
        async with _session(url) as session:
            return await auth_service.create_key(
                session,
                name=name,
                scopes=[s.value for s in scope],
                expires_at=expires_at,
                actor=CLI_ACTOR,
                platform_id=platform,
            )

    with _database(settings) as url:
        try:
            created = asyncio.run(create(url))
        except platforms_service.PlatformNotFound:
            _refuse(f"No platform {platform}: see sika platforms list.")
        except platforms_service.PlatformRequired:
            _refuse("This installation has several platforms: name the key's platform with --platform plt_….")
    bound = f"bound to {created.key.platform_id}" if created.key.platform_id else "global (every platform)"
    console.print(f"Created {created.key.id} with scopes {', '.join(created.key.scopes)}, {bound}")
    console.print(f"Secret (shown once): [bold]{created.secret}[/]")


def _refuse(message: str) -> NoReturn:
    """A refused command: one line on stderr, exit code 2 (as for a wrong option)."""
    err_console.print(message, style="bold red", soft_wrap=True, highlight=False, markup=False)
    raise typer.Exit(2)


@keys_app.command("list")
def keys_list(include_revoked: Annotated[bool, typer.Option(help="Show revoked keys too.")] = False) -> None:
    """List API keys (never their secrets)."""
    settings = _settings()

    async def fetch(url: str) -> Table:
        table = Table("id", "name", "prefix", "scopes", "platform", "expires", "revoked", "last used")
        async with _session(url) as session:
            for key in await auth_service.list_keys(session, include_revoked=include_revoked):
                table.add_row(
                    key.id,
                    key.name,
                    key.lookup_prefix,
                    ",".join(key.scopes),
                    key.platform_id or "(global)",
                    str(key.expires_at or "-"),
                    str(key.revoked_at or "-"),
                    str(key.last_used_at or "-"),
                )
        return table

    with _database(settings) as url:
        console.print(asyncio.run(fetch(url)))


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_…).")]) -> None:
    """Revoke an API key at once."""
    settings = _settings()

    async def revoke(url: str) -> None:
        async with _session(url) as session:
            await auth_service.revoke_key(session, key_id=key_id, actor=CLI_ACTOR, now=clock.now())

    with _database(settings) as url:
        try:
            asyncio.run(revoke(url))
        except auth_service.ApiKeyNotFound:
            _refuse(f"No API key {key_id}: see sika keys list.")
    console.print(f"Revoked {key_id}")


@platforms_app.command("create")
def platforms_create(
    name: Annotated[str, typer.Option(help="The platform's name (a marketplace, an app, a brand).")],
    currency: Annotated[str, typer.Option(help="Its default currency (ISO 4217, e.g. XOF).")] = "XOF",
) -> None:
    """Create a platform; then give it keys with sika keys create --platform."""
    settings = _settings()
    try:
        body = platforms_schemas.PlatformCreate(name=name, default_currency=currency.upper())
    except ValueError:
        _refuse(f"Cannot create {name!r} in {currency!r}: the name is 1 to 200 characters, the currency 3 letters.")

    async def create(url: str) -> Platform:
        async with _session(url) as session:
            return await platforms_service.create_platform(session, body=body, actor=CLI_ACTOR, now=clock.now())

    with _database(settings) as url:
        platform = asyncio.run(create(url))
    console.print(f"Created {platform.id} ({platform.name}, {platform.default_currency})", markup=False)


@platforms_app.command("list")
def platforms_list() -> None:
    """List the platforms, newest first."""
    settings = _settings()

    async def fetch(url: str) -> Table:
        table = Table("id", "name", "currency", "fee policy", "created")
        page = paging.Page(limit=paging.MAX_LIMIT)
        async with _session(url) as session:
            while found := await platforms_service.list_platforms(session, page=page):
                for platform in found:
                    table.add_row(
                        platform.id,
                        escape(platform.name),
                        platform.default_currency,
                        _fee_policy(platform),
                        platform.created_at.isoformat(timespec="seconds"),
                    )
                page = paging.Page(after=found[-1].seq, limit=paging.MAX_LIMIT)
        return table

    with _database(settings) as url:
        console.print(asyncio.run(fetch(url)))


def _fee_policy(platform: Platform) -> str:
    """``XOF 1.5% + 100`` per currency, ``-`` for none."""
    rules = []
    for currency, rule in sorted(platform.fee_policy.items()):
        parsed = platforms_schemas.FeeRule.model_validate(rule)
        rules.append(f"{currency} {parsed.percent_bps / 100:g}% + {parsed.fixed_minor}")
    return ", ".join(rules) or "-"


@docs_app.command("config")
def docs_config() -> None:
    """Print the configuration reference (docs/configuration.md) as Markdown."""
    typer.echo(reference_markdown(), nl=False)


@app.command()
def check() -> None:
    """Check every domain's invariants (the ledger's, the wallets'…) and print a report; exits 1 on any breach."""
    settings = _settings()
    with _database(settings) as url:
        report = asyncio.run(_check_invariants(url))
    table = Table("check", "result", "breaches")
    for result in report.results:
        table.add_row(
            result.description,
            "[green]ok[/]" if result.breach_count == 0 else "[bold red]BREACHED[/]",
            str(result.breach_count),
        )
    console.print(table)
    for breach in report.breaches:
        console.print(escape(breach.describe()), style="red")
    if not report.ok:
        err_console.print("[bold red]The ledger's invariants are breached.[/]")
        raise typer.Exit(1)
    console.print("[bold green]The ledger's invariants hold.[/]")


async def _check_invariants(url: str) -> invariants.Report:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    ) as progress:
        task = progress.add_task("Checking the ledger", total=len(invariants.load()))
        async with _session(url) as session:
            return await invariants.check_all(
                session,
                on_check=lambda found: progress.update(task, description=found.description),
                on_result=lambda result: progress.advance(task),
            )


@app.command()
def reconcile() -> None:
    """Ask the providers now about collections and payouts left open longer than
    SIKA_RECONCILE_AFTER_SECONDS, and finish them (the worker does this every minute)."""
    settings = _settings()
    with _database(settings) as url, err_console.status("Asking the providers…"):
        report = asyncio.run(_reconcile(settings, url))
    table = Table("checked", "changed", "provider unreachable")
    table.add_row(str(report.checked), str(report.changed), str(report.unreachable))
    console.print(table)


async def _reconcile(settings: Settings, url: str) -> payments_service.ReconcileReport:
    engine = db.make_engine(url, pool_size=2, max_overflow=0)
    try:
        async with httpx.AsyncClient() as client:
            return await payments_service.reconcile(
                db.make_sessionmaker(engine),
                providers=provider_registry.build_router(settings, client),
                after_seconds=settings.RECONCILE_AFTER_SECONDS,
                actor=CLI_ACTOR,
                clock=clock.now,
            )
    finally:
        await engine.dispose()


@app.command()
def demo(
    url: Annotated[
        str | None, typer.Option(help="Sika's URL; by default http://HOST:PORT, where sika run serves.")
    ] = None,
    key: Annotated[str | None, typer.Option(help="An admin key; by default the one sika run saved.")] = None,
    sandbox_url: Annotated[
        str | None, typer.Option(help="The PSP sandbox; by default SANDBOX_HOST:SANDBOX_PORT.")
    ] = None,
) -> None:
    """Walk an escrow end to end against a running Sika: Orange Money in, two milestones, a payout out."""
    settings = _settings()
    key_file = settings.local_dir / ADMIN_KEY_FILE
    if key is None and not key_file.exists():
        _refuse(f"No admin key in {key_file}: start Sika with `sika run` first, or pass --key.")
    try:
        outcome = demo_walk.run(
            url=url or f"http://{settings.HOST}:{settings.PORT}",
            admin_key=key or key_file.read_text().strip(),
            sandbox_url=sandbox_url or f"http://{settings.SANDBOX_HOST}:{settings.SANDBOX_PORT}",
            console=console,
        )
    except demo_walk.DemoFailed as exc:
        err_console.print(f"The demo stopped: {exc}", style="bold red", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from exc
    console.rule(f"[bold green]Done: escrow {outcome.escrow_id} completed, talent paid out")
