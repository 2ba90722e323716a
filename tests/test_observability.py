"""/metrics after a lifecycle, and request logs that carry no personal data."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import timedelta

import httpx
import pytest

from app.core.observability import JsonFormatter
from app.main import create_app
from tests.helpers import Api, new_id_number


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus exposition (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in metrics.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        found = re.match(r"^([a-zA-Z_:]+)(?:\{(.*)\})?$", key)
        if found and found.group(1) == name:
            have = ",".join(sorted((found.group(2) or "").split(","))) if found.group(2) else ""
            if have == wanted:
                return float(value)
    return 0.0


SCRAPER = {"Authorization": "Bearer test-metrics-token"}


async def scrape(api: Api) -> str:
    response = await api.client.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_a_scrape_after_a_lifecycle_shows_its_transitions(api: Api) -> None:
    before = await scrape(api)
    case_id = await api.to_assisted()
    refused = await api.act("bureau.jiaohe", case_id, "confirm")  # already confirmed
    assert refused.status_code in (409, 412, 428)
    after = await scrape(api)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    for action in (
        "start_village_review",
        "publish_notice",
        "submit_to_township",
        "submit_to_city",
        "confirm",
    ):
        assert delta("fangfanpin_transitions_total", action=action, outcome="fired") >= 1, action
    for action in ("publish_notice", "confirm"):  # one route (and one series) per action
        route = f"/api/v1/cases/{{case_id}}/actions/{action}"
        count = delta(
            "fangfanpin_request_duration_seconds_count", method="POST", route=route, status="200"
        )
        assert count >= 1, route
    code = refused.json()["code"]
    assert delta("fangfanpin_refusals_total", code=code) == 1
    assert delta("fangfanpin_transitions_total", action="confirm", outcome=code) == 1
    assert sample(after, "fangfanpin_audit_unsequenced_events") > 0  # no worker ran here
    assert "fangfanpin_db_pool_connections" in after


async def test_overdue_cases_and_timer_lag_are_gauged(api: Api) -> None:
    await api.open_case()
    api.clock.advance(timedelta(days=30))
    metrics = await scrape(api)
    assert sample(metrics, "fangfanpin_overdue_cases", limit="identification") == 1
    assert sample(metrics, "fangfanpin_overdue_cases", limit="acceptance") == 0


async def test_request_logs_are_json_with_ids_and_never_personal_data(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    head, phone = new_id_number(), "13955551234"
    with caplog.at_level(logging.INFO, logger="fangfanpin.request"):
        declared = await api.post(
            "platform.12317",
            "/api/v1/intake/self-declarations",
            {
                "name": "刘桂芝",
                "phone": phone,
                "id_number": head,
                "village_code": "220281102200",
                "household_size": 2,
                "hardship": "受伤",
                "risk_type": "accident",
            },
        )
        assert declared.status_code == 201, declared.text
        case_id = await api.to_assisted(id_number=new_id_number())
        household = (await api.case(case_id))["household"]["id"]
        traced = api.headers("cadre.pinggang", **{"X-Request-ID": "abc-1"})
        await api.client.get(
            f"/api/v1/households/{household}/personal-data",
            params={"purpose": "核对", "fields": ["id_number", "phone"]},
            headers=traced,
        )
    lines = [JsonFormatter().format(r) for r in caplog.records if r.name == "fangfanpin.request"]
    assert lines
    text = "\n".join(lines)
    assert head not in text
    assert phone not in text
    assert "刘桂芝" not in text
    parsed = [json.loads(line) for line in lines]
    assert {"request_id", "method", "route", "status", "duration_ms"} <= parsed[-1].keys()
    assert parsed[-1]["request_id"] == "abc-1"
    made = [p["request_id"] for p in parsed[:-1]]  # none sent: each its own, random
    assert all(re.fullmatch(r"[0-9a-f]{32}", made_id) for made_id in made)
    assert len(set(made)) == len(made)
    assert parsed[-1]["actor"] == "cadre.pinggang"
    with_case = [p for p in parsed if p.get("case_id") == case_id]
    assert with_case
    assert all(p["route"].startswith("/api/v1/cases/{case_id}") for p in with_case)


async def test_metrics_are_for_the_scraper_only(api: Api) -> None:
    assert (await api.client.get("/metrics")).status_code == 401
    wrong = {"Authorization": "Bearer guess"}
    assert (await api.client.get("/metrics", headers=wrong)).status_code == 401
    assert (await api.get("bureau.jiaohe", "/metrics")).status_code == 401  # a user is no scraper
    unset = create_app(api.settings.model_copy(update={"metrics_token": None}), api.clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=unset), base_url="http://x"
    ) as client:
        assert (await client.get("/metrics")).status_code == 404
    await unset.state.engine.dispose()


def test_a_log_line_is_one_json_object_whatever_its_values() -> None:
    """orjson writes the line; a value it refuses (an integer beyond 64 bits) is written by
    the standard library's encoder instead, and an error keeps its last line."""
    formatter = JsonFormatter()
    record = logging.LogRecord("fangfanpin.request", logging.INFO, "", 0, "request", (), None)
    record.__dict__.update(status=200, route="/api/v1/cases/{case_id}", case_id="案-1")
    line = json.loads(formatter.format(record))
    assert (line["status"], line["case_id"], line["logger"]) == (200, "案-1", "fangfanpin.request")
    record.__dict__["duration_ms"] = 2**70
    assert json.loads(formatter.format(record))["duration_ms"] == 2**70
    try:
        raise ValueError("the last line")
    except ValueError:
        failed = logging.LogRecord("x", logging.ERROR, "", 0, "failed", (), sys.exc_info())
    assert json.loads(formatter.format(failed))["error"] == "ValueError: the last line"


@pytest.mark.parametrize("enabled", [False, True])
async def test_fastapi_opentelemetry_is_consulted_only_when_the_setting_asks(
    api: Api, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    """Off (the default), no request asks OpenTelemetry whether a provider is configured;
    on (``OPENTELEMETRY=true``), each request asks of its tracer, meter and logger providers,
    and goes on untraced when none is."""
    from fastapi.telemetry import _asgi

    asked: list[bool] = []
    original = _asgi._unconfigured  # type: ignore[attr-defined]

    def counted(provider: object) -> bool:
        answer = original(provider)
        asked.append(answer)
        return answer

    monkeypatch.setattr(_asgi, "_unconfigured", counted)
    app = create_app(api.settings.model_copy(update={"opentelemetry": enabled}), api.clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://x"
    ) as client:
        for _ in range(3):
            assert (await client.get("/health")).json() == {"status": "ok"}
    await app.state.engine.dispose()
    assert asked == ([True] * 9 if enabled else [])


@pytest.mark.parametrize(
    "setup",
    [
        "import logging.config; from app.core.observability import LOG_CONFIG; "
        "logging.config.dictConfig(LOG_CONFIG)",
        "from app.core.observability import configure_logging; configure_logging()",
    ],
    ids=["serve", "worker"],
)
def test_a_start_logs_no_line_of_alembic_setting_up_its_plugins(setup: str) -> None:
    """A served API (uvicorn's ``LOG_CONFIG``) and the worker (``configure_logging``) import
    alembic's commands (``app.health`` reads the revisions); alembic then logged seven lines
    at INFO, one a plugin, before the first line of the service's own. They are not written;
    a warning of alembic's still is."""
    import subprocess

    probe = (
        f"{setup}\nimport logging, app.migrations\n"
        "logging.getLogger('alembic.runtime.plugins').warning('still said')\n"
        "logging.getLogger('fangfanpin.request').info('a request')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["message"] for line in lines] == ["still said", "a request"]
