"""The previous release's own code against this release's schema, as a rolling update meets it:
the migration Job has run, the old pods still serve. Its code is taken from the repository's
history (the commit before the package version last changed) and run in a process of its
own; its readiness must follow what the new revisions declare. Revision 0033 names 0.3.0 as
the oldest release that runs on it, so a 0.2.0 pod answers 503 and leaves the service, while
on the schema it was built for it answers 200.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

from app import migrations
from app.core.release import RELEASE
from tests.conftest import REPOSITORY

PROBE = """
import asyncio, json, sys
import httpx
import app
assert app.__file__.startswith(sys.argv[1]), app.__file__  # the old code, not this checkout's
from app.core.release import RELEASE
from app.main import create_app

async def main():
    application = create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application),
                                 base_url="http://old") as client:
        answer = await client.get("/ready")
    await application.state.engine.dispose()
    print(json.dumps({"release": RELEASE, "status": answer.status_code, "body": answer.json()}))

asyncio.run(main())
"""


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPOSITORY, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The code of the release before this one, unpacked from the history."""
    if not (REPOSITORY / ".git").exists() or _git("rev-parse", "--is-shallow-repository") == "true":
        pytest.skip("no full git history here: the previous release's code is not at hand")
    bumped = _git(
        "log", "-1", "--format=%H", "-S", f'version = "{RELEASE}"', "--", "pyproject.toml"
    )
    if not bumped:
        pytest.fail(f"no commit sets the package version to {RELEASE}")
    target = tmp_path_factory.mktemp("previous-release")
    archive = target / "code.tar"
    _git("archive", "--format=tar", "-o", str(archive), f"{bumped}^")
    with tarfile.open(archive) as tar:
        tar.extractall(target / "code", filter="data")
    code = target / "code"
    # installed as its own image installs it: the release is the package's version, which
    # importlib.metadata reads from the first distribution on the path, this one
    pyproject = tomllib.loads((code / "pyproject.toml").read_text())
    version = pyproject["project"]["version"]
    info = code / f"fangfanpin-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fangfanpin\nVersion: {version}\n")
    return code


def _ready_of(code: Path, database: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "FANGFANPIN_DEMO": "1",
        "EMBEDDED_WORKER": "false",
        "PYTHONPATH": str(code),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(code)],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_the_previous_release_leaves_the_service_on_this_schema(
    previous_release: Path, tmp_path: Path
) -> None:
    old_head = subprocess.run(
        [sys.executable, "-c", "from app import migrations; print(migrations.head_revision())"],
        cwd=previous_release,
        env={**os.environ, "PYTHONPATH": str(previous_release)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert old_head != migrations.head_revision()
    # the schema it was built for: its own migrations, its own readiness
    own = tmp_path / "own.sqlite3"
    subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        cwd=previous_release,
        env={
            **os.environ,
            "DATABASE_URL": f"sqlite+aiosqlite:///{own}",
            "PYTHONPATH": str(previous_release),
        },
        check=True,
        capture_output=True,
    )
    before = _ready_of(previous_release, own)
    assert before["release"] != RELEASE
    assert before["status"] == 200, before
    # the migration Job of this release has run: the old pod must go out of service
    new = tmp_path / "new.sqlite3"
    migrations.upgrade(f"sqlite+aiosqlite:///{new}")
    after = _ready_of(previous_release, new)
    assert after["status"] == 503, after
    assert isinstance(after["body"], dict)
    assert after["body"]["reason"] == "schema_newer_than_release", after
