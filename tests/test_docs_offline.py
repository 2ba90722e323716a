"""/docs and /redoc on an intranet: served from the service's own files, rendered in headless
Chromium with every request to another host blocked."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx

from tests.conftest import ARTIFACTS, REPOSITORY, browser_or_skip


def test_the_docs_pages_name_no_other_host(served: dict[str, Any]) -> None:
    base = f"http://127.0.0.1:{served['port']}"
    for page in ("/docs", "/redoc"):
        html = httpx.get(base + page).text
        assert "http://" not in html, page
        assert "https://" not in html, page
        assert "/static/docs/" in html


def test_the_docs_render_with_every_outside_request_blocked(served: dict[str, Any]) -> None:
    browser_or_skip()
    shots = ARTIFACTS / "docs"
    shots.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["node", "tests/browser/docs.mjs", f"http://127.0.0.1:{served['port']}", str(shots)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["outside"] == [], "requests to other hosts were attempted"
    assert seen["failures"] == []
    document = httpx.get(f"http://127.0.0.1:{served['port']}/openapi.json").json()
    operations = sum(len(ops) for ops in document["paths"].values())
    assert seen["swagger"] >= operations  # every operation rendered (demo adds its own)
    assert seen["redoc"] >= operations
    assert (shots / "swagger-ui.png").stat().st_size > 10_000
