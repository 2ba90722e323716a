"""A request's session makes its synchronous session only when something needs it: a read
through the direct statements never does, a write does, and what the request kept in its
``info`` before is there after."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.core.config import Settings
from app.core.db import MadeSession, RequestSession, make_engine, make_sessionmaker
from tests.helpers import Api


async def test_the_session_is_made_on_first_use_with_what_was_kept(settings: Settings) -> None:
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        session = make_sessionmaker(engine, settings)()
        assert isinstance(session, RequestSession)
        assert "sync_session" not in session.__dict__
        assert session.info["field_keys"] == settings.field_keys
        session.info["kept"] = 1
        assert not session.in_transaction()
        assert session.bind is engine
        assert (await session.execute(text("select 1"))).scalar() == 1
        assert "sync_session" in session.__dict__  # made by the statement
        assert isinstance(session, MadeSession)  # an AsyncSession as any from now on
        assert session.sync_session.info is session.info
        assert session.info["kept"] == 1
        assert session.in_transaction()
        assert session.sync_session.bind is engine.sync_engine
        await session.close()
        rebound = make_sessionmaker(engine, settings)()
        rebound.bind = engine  # a bind set before it is made: made, then set on it
        assert isinstance(rebound, MadeSession)
        assert rebound.bind is engine
        assert rebound.sync_session.bind is engine.sync_engine
        await rebound.close()
    finally:
        await engine.dispose()


async def test_a_read_of_a_case_makes_no_session_and_a_write_does(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = (await api.open_case())["id"]
    made: list[RequestSession] = []
    original = RequestSession._make

    def counted(self: RequestSession) -> None:
        made.append(self)
        original(self)

    monkeypatch.setattr(RequestSession, "_make", counted)
    assert (await api.get("bureau.jiaohe", f"/api/v1/cases/{case_id}")).status_code == 200
    actions = await api.get("bureau.jiaohe", f"/api/v1/cases/{case_id}/actions")
    assert actions.status_code == 200
    assert made == []
    await api.open_case()
    assert made  # a write needs it
