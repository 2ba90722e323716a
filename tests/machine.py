"""Counting what a workflow's machine is sent, for tests that prove it was spared."""

from __future__ import annotations

from typing import Any

import pytest

from workflows.case import Workflow


def machine_sends(monkeypatch: pytest.MonkeyPatch, workflow: Workflow) -> list[str]:
    """The events ``workflow``'s machine is sent from now on (until ``monkeypatch`` undoes)."""
    sent: list[str] = []
    send = workflow.machine.send

    def counted(self: Any, event: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(event)
        return send(self, event, *args, **kwargs)

    monkeypatch.setattr(workflow.machine, "send", counted)
    return sent
