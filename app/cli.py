"""The command line: ``fangfanpin --help``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from app.core.config import get_settings
from workflows.calendar import SHANGHAI

cli = typer.Typer(
    help="防返贫 — the monitoring and assistance workflow service.", no_args_is_help=True
)


@cli.command()
def migrate(revision: str = "head") -> None:
    """Bring the database schema to a revision (Alembic; the only way a schema is made)."""
    from app.migrations import upgrade

    settings = get_settings()
    upgrade(
        settings.database_migration_url or settings.database_url,
        revision,
        app_role=settings.database_app_role,
    )
    granted = f"; {settings.database_app_role} granted" if settings.database_app_role else ""
    typer.echo(f"database at {revision}{granted}")
    if revision == "head":
        rewritten = asyncio.run(_refresh_documents(settings))
        if rewritten:
            typer.echo(f"{rewritten} national documents rewritten to the current sheet")


async def _refresh_documents(settings: Any) -> int:
    """National documents written under an older sheet version, rewritten from their cases."""
    from app.core.db import make_engine, make_sessionmaker
    from app.exports.document import refresh

    engine = make_engine(settings.database_url)
    try:
        return await refresh(make_sessionmaker(engine, settings))
    finally:
        await engine.dispose()


@cli.command()
def demo(
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="Start over: delete the embedded SQLite database, migrate it anew, load the "
            "demo data (SQLite only; stop the server first).",
        ),
    ] = False,
) -> None:
    """Load the demo areas (Jiaohe's townships and villages) and the illustrative income
    lines, and list the demo users."""
    from app.areas.demo import DEMO_USERS, load
    from app.core.clock import SystemClock
    from app.core.db import make_engine, make_sessionmaker
    from app.demo.data import load_policy

    settings = get_settings()
    if reset:
        _reset_sqlite(settings.database_url)

    async def run() -> tuple[int, bool]:
        engine = make_engine(settings.database_url)
        async with make_sessionmaker(engine)() as session, session.begin():
            added = await load(session)
            lines = await load_policy(session, SystemClock().now())
        await engine.dispose()
        return added, lines

    added, lines = asyncio.run(run())
    typer.echo(f"demo areas loaded ({added} new)")
    if lines:
        typer.echo("illustrative income lines 2022–2030 loaded (示例数据, not provincial data)")
    typer.echo("demo users (mint a token with: fangfanpin token --user NAME):")
    for user in DEMO_USERS:
        typer.echo(
            f"  {user.sub:<22} {user.role.value:<18} area {user.area:<13} {user.description}"
        )


def _reset_sqlite(url: str) -> None:
    """Delete the embedded database and migrate a new one (never a server's database)."""
    from sqlalchemy import make_url

    from app.migrations import upgrade

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database:
        raise typer.BadParameter(
            "--reset deletes the embedded SQLite database only; drop and create a server's "
            "database yourself",
            param_hint="--reset",
        )
    database = Path(parsed.database)
    for leftover in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        leftover.unlink(missing_ok=True)
    upgrade(url, "head")
    typer.echo(f"{database} deleted and migrated anew")


@cli.command()
def token(
    user: Annotated[str | None, typer.Option(help="A demo user's name (see `demo`).")] = None,
    sub: Annotated[str | None, typer.Option(help="Subject, with --role and --area.")] = None,
    role: Annotated[str | None, typer.Option()] = None,
    area: Annotated[str | None, typer.Option(help="Area code prefix, e.g. 220281.")] = None,
    department: Annotated[str | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option(help="The person's name (the `name` claim).")] = None,
    hours: Annotated[int, typer.Option(min=1, max=720)] = 8,
) -> None:
    """Mint a bearer token for local use (signed with JWT_SECRET)."""
    from app.areas.demo import demo_user
    from app.auth.tokens import mint
    from app.core.clock import SystemClock
    from workflows.vocabulary import Role

    if user:
        try:
            found = demo_user(user)
        except LookupError:
            raise typer.BadParameter(f"no demo user {user!r}", param_hint="--user") from None
        sub, chosen, area, department = found.sub, found.role, found.area, found.department
        name = name or found.name
    elif sub and role and area is not None:
        try:
            chosen = Role(role)
        except ValueError:
            raise typer.BadParameter(f"unknown role {role!r}", param_hint="--role") from None
    else:
        raise typer.BadParameter("give --user, or --sub with --role and --area")
    typer.echo(
        mint(
            get_settings(),
            sub=sub,
            role=chosen,
            area=area,
            department=department,
            name=name,
            now=SystemClock().now(),
            ttl=timedelta(hours=hours),
        )
    )


@cli.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt personal data with the newest key in FIELD_KEYS (online, in small batches)."""
    import app.models  # noqa: F401  every table, so that the foreign keys resolve
    from app.core.db import make_engine, make_sessionmaker
    from app.core.rotation import Rotated, rotate

    async def run() -> Rotated:
        engine = make_engine(get_settings().database_url)
        try:
            return await rotate(make_sessionmaker(engine, get_settings()), get_settings())
        finally:
            await engine.dispose()

    done = asyncio.run(run())
    typer.echo(f"re-encrypted {done.rewritten} row(s)")
    for table, left in done.left.items():
        typer.echo(
            f"{table}: {left} row(s) written once stay sealed with an older key;"
            " keep that key in FIELD_KEYS while they are needed"
        )


@cli.command("rekey-blind-index")
def rekey_blind_index() -> None:
    """Re-digest ID numbers with the newest BLIND_INDEX_KEYS key, keeping old digests as
    aliases (online, in small batches); says what is still under an older key."""
    import app.models  # noqa: F401  every table, so that the foreign keys resolve
    from app.core.blind import blind_of
    from app.core.db import make_engine, make_sessionmaker
    from app.department_data.repository import follow_aliases
    from app.households.rotation import rekey_blind_index as rekey

    async def run() -> dict[str, int]:
        settings = get_settings()
        engine = make_engine(settings.database_url)
        try:
            sessions = make_sessionmaker(engine, settings)
            done = await rekey(sessions, settings)
            async with sessions() as session, session.begin():
                followed = await follow_aliases(session, blind_of(settings))
            done["department_record"], done["department_record_left"] = followed
            return done
        finally:
            await engine.dispose()

    done = asyncio.run(run())
    typer.echo(
        f"re-keyed {done['household']} household(s), {done['member']} member(s); "
        f"{done['department_record']} department record(s) followed their aliases"
    )
    if done["duplicates"]:
        typer.echo(
            f"{done['duplicates']} row(s) left: another row holds the same person's "
            "new digest (one person registered twice; resolve, then run again)"
        )
    typer.echo(
        f"under an older key: {done['household_left']} household(s), "
        f"{done['member_left']} member(s), {done['department_record_left']} department "
        "record(s) of people not registered (they match again once their dataset is "
        "uploaded anew); drop the old key when all three are 0"
    )


@cli.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the document.")] = Path(
        "openapi/openapi.json"
    ),
) -> None:
    """Write the OpenAPI document the app generates (its demo endpoints included)."""
    from app.contract import published

    document = published()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    typer.echo(f"wrote {output}")


@cli.command()
def diagram(
    readme: Annotated[
        Path | None, typer.Option(help="Rewrite the diagram section of this README instead.")
    ] = None,
) -> None:
    """Print the case workflow as a Mermaid diagram (generated from the definition)."""
    from workflows.case import CURRENT

    if readme is None:
        typer.echo(CURRENT.mermaid())
        return
    start, end = "<!-- diagram:start -->", "<!-- diagram:end -->"
    text = readme.read_text()
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    block = f"{start}\n```mermaid\n{CURRENT.mermaid().rstrip()}\n```\n{end}"
    readme.write_text(head + block + tail)
    typer.echo(f"updated the diagram in {readme}")


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1)] = 1,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also run the timer worker in-process.")
    ] = False,
    demo_clock: Annotated[
        bool,
        typer.Option("--demo-clock", help="Let an admin move the clock (demonstrations only)."),
    ] = False,
) -> None:
    """Serve the API with uvicorn (a demonstration with FANGFANPIN_DEMO=1, as `make run`)."""
    import os

    import uvicorn

    if with_worker:
        os.environ["EMBEDDED_WORKER"] = "true"
    if demo_clock or get_settings().demo:
        os.environ["DEMO_CLOCK"] = "true"
    get_settings.cache_clear()
    _refuse_unsafe()
    from app.core.observability import LOG_CONFIG  # JSON logs, one line per request
    from app.core.serving import HTTP  # an answer's head and body sent as one write

    # uvicorn's own access log would only repeat each request's line, without its id and
    # actor: off, as LOG_CONFIG silences it, and its line is not even made
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        log_config=LOG_CONFIG,
        access_log=False,
        http=HTTP,
    )


def _refuse_unsafe() -> None:
    """Stop, one line a reason, when a production process would run on unsafe settings."""
    from app.startup import unsafe_settings

    problems = unsafe_settings(get_settings())
    for problem in problems:
        typer.echo(f"fangfanpin: refusing to start: {problem}", err=True)
    if problems:
        raise typer.Exit(2)


@cli.command()
def worker(
    once: Annotated[bool, typer.Option(help="Fire what is due now, then exit.")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between passes.")] = 5.0,
) -> None:
    """Run the worker: timers due (notices run, deadlines passed), the audit log's sequencer
    and its periodic checkpoints. Several may run."""
    import logging

    from app import wiring
    from app.cases.service import fire_timer
    from app.core.clock import SystemClock
    from app.core.db import make_engine, make_sessionmaker
    from app.core.observability import configure_logging
    from app.timers.service import process_due
    from app.worker import run_worker

    configure_logging(logging.INFO)
    _refuse_unsafe()
    wiring.connect()  # a fired timer moves a case: what follows a case must be connected
    settings = get_settings()

    async def run() -> None:
        engine = make_engine(settings.database_url, pool_size=2)
        sessions = make_sessionmaker(engine, settings)
        try:
            if once:
                fired = await process_due(sessions, SystemClock(), fire_timer)
                typer.echo(f"fired {fired} timer(s)")
            else:
                await run_worker(
                    sessions, SystemClock(), fire_timer, interval=interval, settings=settings
                )
        finally:
            await engine.dispose()

    asyncio.run(run())


audit = typer.Typer(help="The audit trail: bundles for auditors and their offline check.")
cli.add_typer(audit, name="audit")


@audit.command("bundle")
def audit_bundle(
    out: Annotated[Path, typer.Argument(help="A new directory to write the bundle into.")],
    area: Annotated[str | None, typer.Option(help="Only cases in this area code prefix.")] = None,
    since: Annotated[str | None, typer.Option(help="Cases active from (ISO date/time).")] = None,
    until: Annotated[str | None, typer.Option(help="…until, exclusive (ISO date/time).")] = None,
) -> None:
    """Sign a checkpoint now and export the log up to it, for an auditor.

    All of it, or whole cases chosen by area or by activity in a period; with the checkpoints,
    proofs and public key the offline check needs."""
    from app.audit.bundle import export
    from app.core.clock import SystemClock
    from app.core.db import make_engine, make_sessionmaker

    if out.exists():
        raise typer.BadParameter(f"{out} exists: name a new directory", param_hint="OUT")
    settings = get_settings()

    async def run() -> dict[str, object]:
        engine = make_engine(settings.database_url, pool_size=2)
        try:
            return await export(
                make_sessionmaker(engine, settings),
                settings,
                SystemClock().now(),
                out,
                area=area,
                since=_instant(since),
                until=_instant(until),
                progress=_progress("events written"),
            )
        finally:
            await engine.dispose()

    manifest = asyncio.run(run())
    typer.echo(f"{manifest['events']} events, log cut at {manifest['tree_size']}, into {out}")


def _progress(what: str) -> Callable[[int], None]:
    return lambda n: typer.echo(f"  {n:,} {what}", err=True)


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO date or time: {value}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


@audit.command("verify")
def audit_verify(
    bundle: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="The bundle.")],
    public_key: Annotated[
        list[str] | None,
        typer.Option(
            help="The log's public key (base64) to pin; else the bundle's. Give it "
            "once per key after a rotation (the current and the earlier ones)."
        ),
    ] = None,
) -> None:
    """Check a bundle offline: signatures, chains, Merkle roots and proofs, replay.

    Needs neither the server nor the database. Replays each case through its own workflow
    version. Exit status 1, naming the event where anything breaks."""
    from app.audit.verify import verify_bundle

    report = verify_bundle(bundle, public_key=public_key, progress=_progress("events checked"))
    rate = report.events / report.seconds if report.seconds else 0.0
    typer.echo(
        f"{report.events} events in {report.cases} cases, {report.checkpoints} "
        f"checkpoints, tree size {report.tree_size}: {report.seconds:.2f} s "
        f"({rate:,.0f} events/s)"
    )
    for note in report.notes:
        typer.echo(f"note: {note}")
    if report.ok:
        typer.echo("OK: every check passed")
        return
    for problem in report.problems[:50]:
        typer.echo(str(problem))
    if len(report.problems) > 50:
        typer.echo(f"… and {len(report.problems) - 50} more")
    typer.echo(f"FAILED: {len(report.problems)} problem(s); the first at: {report.problems[0]}")
    raise typer.Exit(1)


def main() -> None:
    """Run the command line; an error is one line on stderr (exit 1), never a traceback, unless
    FANGFANPIN_DEBUG=1 asks for it."""
    import os

    try:
        cli()
    except Exception as exc:
        if os.environ.get("FANGFANPIN_DEBUG") == "1":
            raise
        said = str(exc).strip().splitlines()
        typer.echo(f"fangfanpin: {type(exc).__name__}: {said[0] if said else ''}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
