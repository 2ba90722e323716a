"""A case from each channel through identification to assistance, over HTTP."""

from __future__ import annotations

import itertools

import pytest

from tests.helpers import Api


@pytest.mark.parametrize("channel", ["self_declared", "cadre_found", "department_flagged"])
async def test_full_lifecycle_to_assisted(api: Api, channel: str) -> None:
    case_id = await api.to_assisted(channel)
    case = await api.case(case_id)
    assert case["state"] == "assisted"
    assert case["monitoring_type"] == "sudden_hardship"
    assert case["channel"] == channel
    replay = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")).json()
    assert replay["matches"], replay
    assert replay["chain_valid"], replay
    assert replay["facts_match"], replay
    assert replay["all_steps_legal"], replay
    assert replay["replayed_state"] == "assisted"
    events = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/events")).json()
    assert [e["seq"] for e in events] == list(range(1, case["version"] + 1))
    assert events[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(events))
