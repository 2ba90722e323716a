"""/metrics after a lifecycle, and request logs that carry no personal data."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from app.core.observability import (
    JsonFormatter,
    JsonLineHandler,
    RequestIds,
    access_log,
    line_handler,
    request_ids,
)
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


def test_request_ids_are_drawn_in_bulk_each_its_own() -> None:
    """One draw from the operating system gives :data:`RequestIds.AT_ONCE` ids, each 32
    hexadecimal digits and none repeated; forgotten, the next id comes from a fresh draw."""
    drawn: list[int] = []
    urandom = os.urandom

    def counted(size: int) -> bytes:
        drawn.append(size)
        return urandom(size)

    ids = RequestIds()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "urandom", counted)
        made = [ids.draw() for _ in range(RequestIds.AT_ONCE * 2 + 1)]
        assert drawn == [16 * RequestIds.AT_ONCE] * 3
        ids.forget()
        made.append(ids.draw())
        assert len(drawn) == 4
    assert all(re.fullmatch(r"[0-9a-f]{32}", one) for one in made)
    assert len(set(made)) == len(made)


def test_a_forked_process_never_gives_its_parents_request_ids() -> None:
    """A child forked after the parent drew gets ids of its own, not the parent's next."""
    request_ids.draw()  # the parent holds ids drawn and not yet given
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # (a threaded parent, 3.12+)
        child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.write(write, request_ids.draw().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read, "rb") as pipe:
        childs = pipe.read().decode()
    assert re.fullmatch(r"[0-9a-f]{32}", childs)
    assert childs != request_ids.draw()


class _Writes(io.StringIO):
    """A stream that keeps each write apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


@pytest.fixture
def service_logging() -> Iterator[tuple[JsonLineHandler, _Writes]]:
    """The service's own handler (``LOG_CONFIG``) writing the requests' lines to a stream
    kept here, the request logger's only handler (:func:`_only`), put back after the test."""
    saved = (access_log.handlers[:], access_log.propagate, access_log.level)
    stream = _Writes()
    handler = JsonLineHandler(stream)
    handler.setFormatter(JsonFormatter())
    try:
        yield handler, stream
    finally:
        access_log.handlers[:], access_log.propagate, _ = saved
        access_log.setLevel(saved[2])
        access_log.filters.clear()


def _only(handler: logging.Handler) -> None:
    """``handler`` the request logger's only one: pytest's capturing handlers, which it
    adds as the test starts (to every logger that does not propagate, too), are left out."""
    access_log.handlers[:] = [handler]
    access_log.propagate = False
    access_log.setLevel(logging.INFO)


def test_a_line_made_already_is_written_as_a_records_line_is(
    service_logging: tuple[JsonLineHandler, _Writes],
) -> None:
    handler, stream = service_logging
    _only(handler)
    handler.write_line("one")
    access_log.info("two")
    handler.write_line("three")
    assert stream.writes[0] == "one\n"
    assert json.loads(stream.writes[1])["message"] == "two"
    assert stream.writes[2] == "three\n"


def test_a_line_that_cannot_be_written_is_reported_as_a_records_would_be(
    service_logging: tuple[JsonLineHandler, _Writes], monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, stream = service_logging
    reported: list[str] = []
    monkeypatch.setattr(handler, "handleError", lambda record: reported.append(record.msg))
    stream.close()
    handler.write_line("lost")
    assert reported == ["lost"]


def test_a_requests_line_skips_the_record_only_with_the_services_own_set_up(
    service_logging: tuple[JsonLineHandler, _Writes],
) -> None:
    """The line made without a record is, field for field, the line of the record."""
    handler, _ = service_logging
    _only(handler)
    assert line_handler(access_log) is handler
    fields = {"request_id": "r", "method": "GET", "route": "/x", "status": 200, "case_id": None}
    record = access_log.makeRecord(access_log.name, logging.INFO, "", 0, "request", (), None)
    record.__dict__.update(fields)
    made = JsonFormatter.line(record.created, "info", access_log.name, "request", fields)
    assert made == JsonFormatter().format(record)
    assert list(json.loads(made)) == [
        *("time", "level", "logger", "message", "request_id", "method", "route"),
        *("status", "case_id"),
    ]
    access_log.setLevel(logging.WARNING)
    assert line_handler(access_log) is None  # its lines are not wanted: the logging module
    access_log.setLevel(logging.INFO)
    access_log.addFilter(logging.Filter("elsewhere"))
    assert line_handler(access_log) is None
    access_log.filters.clear()
    access_log.propagate = True  # (the root logger's handlers reached too)
    assert line_handler(access_log) is None  # a second handler: each line a record
    access_log.propagate = False
    handler.addFilter(logging.Filter("elsewhere"))
    assert line_handler(access_log) is None
    handler.filters.clear()
    handler.setFormatter(logging.Formatter())
    assert line_handler(access_log) is None


async def test_a_served_requests_line_is_made_without_a_record_and_is_the_same_line(
    api: Api, service_logging: tuple[JsonLineHandler, _Writes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the service's own set-up, a request's line is made without a record; it
    carries what the record's line carried."""
    made: list[logging.LogRecord] = []
    monkeypatch.setattr(access_log, "handle", made.append)  # (a record would pass here)
    handler, stream = service_logging
    _only(handler)
    traced = api.headers("bureau.jiaohe", **{"X-Request-ID": "traced-1"})
    response = await api.client.get("/api/v1/cases", headers=traced)
    assert response.status_code == 200
    assert made == []
    lines = [json.loads(line) for text in stream.writes for line in text.splitlines()]
    mine = [line for line in lines if line.get("request_id") == "traced-1"]
    assert len(mine) == 1
    assert mine[0]["logger"] == "fangfanpin.request"
    assert (mine[0]["method"], mine[0]["route"], mine[0]["status"]) == (
        "GET",
        "/api/v1/cases",
        200,
    )
    assert (mine[0]["actor"], mine[0]["role"]) == ("bureau.jiaohe", "city_bureau")
    fields = [name for name in JsonFormatter.FIELDS if name in mine[0]]
    assert list(mine[0]) == ["time", "level", "logger", "message", *fields]  # (a record's order)
