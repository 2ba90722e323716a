"""The README's walk-throughs, run as written against a served demo (as `make run` serves it).

The shell blocks marked ``<!-- walkthrough:N -->`` are taken from README.md verbatim and run in
one bash, with every curl failing on an HTTP error (a refusal the text expects says so with
``|| true``). Each walk-through's last line is the state it promises.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"<!-- walkthrough:(\d+) -->\n```sh\n(.*?)```", re.S)
ENDS = {"1": "assisted", "2": "risk_eliminated", "3": "kept_under_watch"}
PRELUDE = """set -euo pipefail
curl() { command curl --silent --show-error --fail-with-body "$@"; }
"""


def blocks() -> list[tuple[str, str]]:
    found = BLOCK.findall((ROOT / "README.md").read_text())
    assert [n for n, _ in found] == list(ENDS), "the README's walk-throughs are 1, 2 and 3"
    return found


def test_the_walkthroughs_run_as_written(served: dict[str, Any]) -> None:
    script = PRELUDE + "".join(f"{text}\necho '--- walkthrough {n} ends'\n" for n, text in blocks())
    env = {**served["env"], "API": f"http://127.0.0.1:{served['port']}/api/v1"}
    done = subprocess.run(
        ["bash", "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(done.stdout)  # shown with -s: what a reader sees
    lines = done.stdout.splitlines()
    for n, state in ENDS.items():
        end = lines.index(f"--- walkthrough {n} ends")
        assert lines[end - 1] == state, lines[max(0, end - 12) : end]
    # what the text says on the way: the notice is refused early, the form covers the head
    assert "notice_period_running" in done.stdout
    assert "['social_security_missing']" in done.stdout
    assert "公告张贴" in done.stdout
    assert "三社" in done.stdout
    # the trail replays legally after each walk-through's last step
    assert done.stdout.count("True") >= 2
