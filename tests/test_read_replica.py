"""Ledgers and audit reads from a real streaming replica; writes and own-write reads on the
primary. The test starts both clusters itself (PostgreSQL's own initdb, pg_basebackup)."""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app import migrations
from app.areas.demo import load as load_demo_areas
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker
from tests.conftest import REQUIRE_POSTGRES
from tests.helpers import Api

BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), None)


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Clusters:
    """A primary and its streaming replica in a temporary directory."""

    def __init__(self) -> None:
        assert BIN is not None
        self.root = Path(tempfile.mkdtemp(prefix="ffp-replica-"))
        self.as_postgres = os.geteuid() == 0  # the server refuses to run as root
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self.primary, self.replica = self.root / "primary", self.root / "replica"
        self.ports = (_port(), _port())

    def run(self, *args: str) -> None:
        command = [*(["runuser", "-u", "postgres", "--"] if self.as_postgres else []), *args]
        subprocess.run(command, check=True, capture_output=True, cwd=self.root)

    def start(self, data: Path, port: int) -> None:
        options = f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(
            f"{BIN}/pg_ctl", "-D", str(data), "-o", options, "-w", "-l", str(data) + ".log", "start"
        )

    def up(self, *, replica: bool = True) -> None:
        self.run(
            f"{BIN}/initdb", "-D", str(self.primary), "-U", "postgres", "--auth=trust", "--no-sync"
        )
        self.start(self.primary, self.ports[0])
        if replica:
            self.run(
                f"{BIN}/pg_basebackup",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.ports[0]),
                "-U",
                "postgres",
                "-D",
                str(self.replica),
                "-R",
                "-X",
                "stream",
            )
            self.start(self.replica, self.ports[1])

    def stop(self, data: Path) -> None:
        """Stop a cluster as a crash would (immediate: no checkpoint, clients cut off)."""
        subprocess.run(
            [
                *(["runuser", "-u", "postgres", "--"] if self.as_postgres else []),
                f"{BIN}/pg_ctl",
                "-D",
                str(data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
        )

    def down(self) -> None:
        for data in (self.replica, self.primary):
            if data.exists():
                self.stop(data)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, which: int) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.ports[which]}/postgres"


@pytest.fixture(scope="module")
def clusters() -> Iterator[Clusters]:
    if BIN is None or not Path(f"{BIN}/pg_basebackup").exists():
        if REQUIRE_POSTGRES:
            pytest.fail("PostgreSQL's server programs are needed for the replica test")
        pytest.skip("PostgreSQL's server programs (initdb, pg_basebackup) are not installed")
    made = Clusters()
    try:
        made.up()
        yield made
    finally:
        made.down()


@pytest.fixture
async def replicated(clusters: Clusters, clock: FrozenClock) -> AsyncIterator[Api]:
    primary = clusters.url(0)
    await asyncio.to_thread(migrations.upgrade, primary)
    engine = make_engine(primary)
    async with make_sessionmaker(engine)() as session, session.begin():
        await load_demo_areas(session)
    await engine.dispose()
    settings = Settings(
        database_url=primary,
        read_database_url=clusters.url(1),
        jwt_secret="test-secret-" + "x" * 32,
    )
    async with Api.start(settings, clock) as api:
        yield api


async def replay(clusters: Clusters, what: str) -> None:
    engine = create_async_engine(clusters.url(1), isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(f"SELECT pg_wal_replay_{what}()"))
    await engine.dispose()


REPLAYED = text("SELECT pg_last_wal_replay_lsn() >= CAST(CAST(:t AS TEXT) AS pg_lsn)")


async def caught_up(clusters: Clusters) -> None:
    primary = create_async_engine(clusters.url(0))
    replica = create_async_engine(clusters.url(1))
    try:
        async with primary.connect() as connection:
            target = await connection.scalar(text("SELECT pg_current_wal_lsn()::text"))
        for _ in range(200):
            async with replica.connect() as connection:
                if await connection.scalar(REPLAYED, {"t": target}):
                    return
            await asyncio.sleep(0.05)
        raise AssertionError("the replica did not catch up")
    finally:
        await primary.dispose()
        await replica.dispose()


async def test_ledgers_and_audit_reads_come_from_the_replica(
    replicated: Api, clusters: Clusters
) -> None:
    api = replicated
    first = await api.to_assisted()  # every write went to the primary (the replica refuses)
    await caught_up(clusters)
    ledger = "/api/v1/ledgers/monitored-households"
    assert [r[0] for r in (await api.get("township.baishishan", ledger)).json()["rows"]] == [first]
    await replay(clusters, "pause")
    try:
        second = await api.to_assisted()
        # the primary answers the case at once (a read that must see its own writes) …
        assert (await api.case(second))["state"] == "assisted"
        # … while the ledger and the audit reads, served by the paused replica, do not know it
        rows = (await api.get("township.baishishan", ledger)).json()["rows"]
        assert [r[0] for r in rows] == [first]
        activity = (await api.get("auditor.jiaohe", "/api/v1/audit/activity")).json()
        assert {e["case_id"] for e in activity["items"]} == {first}
    finally:
        await replay(clusters, "resume")
    await caught_up(clusters)
    rows = (await api.get("township.baishishan", ledger)).json()["rows"]
    assert sorted(r[0] for r in rows) == sorted([first, second])
