"""The notice (公示) and announcement (公告) of a case, as plain text or a printable page."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from app.areas import repository as areas
from app.auth.dependencies import CurrentPrincipal
from app.cases import views as case_views
from app.core.db import SessionDep
from app.core.routing import api_router
from app.notices.documents import (
    Announcement,
    Notice,
    PublicFacts,
    announcement_lines,
    as_html,
    as_text,
    notice_lines,
)
from app.notices.errors import DocumentNotFound, NoNoticePublished, NotConfirmed
from workflows.calendar import local_date
from workflows.vocabulary import Procedure

router = api_router(prefix="/api/v1/cases", tags=["documents"])
DOCUMENTS = {
    "notice": Procedure.identification,
    "elimination_notice": Procedure.elimination,
    "announcement": None,
}


@router.get(
    "/{case_id}/documents/{name}",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}, "text/html": {}}}},
)
async def document(
    case_id: str,
    name: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    format: Literal["text", "html"] = "text",
) -> Response:
    """The village notice (``notice``, ``elimination_notice``) or the ``announcement`` after
    confirmation. Only what may be posted publicly appears: never ID numbers, phone numbers,
    bank accounts, health conditions or risk types."""
    snap, household = await case_views.read_case(session, principal, case_id)
    if name not in DOCUMENTS:
        raise DocumentNotFound(name, DOCUMENTS)
    village, township = snap.area_code, snap.area_code[:9]
    titles = await areas.names(session, [village, township])
    procedure = DOCUMENTS[name] or Procedure.identification
    verification = snap.facts["procedures"][procedure]["verification"]
    size = verification["household_size"] if verification else household.size

    def public(issued: datetime) -> PublicFacts:
        return PublicFacts(
            head_name=household.head_name,
            village_name=titles.get(village, village),
            township_name=titles.get(township, ""),
            household_size=size,
            issued_on=local_date(issued),
            village_group=household.village_group,
        )

    if name == "announcement":
        classification = snap.facts.get("classification") or {}
        if not snap.facts.get("confirmed_at"):
            raise NotConfirmed()
        title, lines = announcement_lines(
            Announcement(
                public(datetime.fromisoformat(snap.facts["confirmed_at"])),
                classification["monitoring_type"],
                classification["responsible_person"]["name"],
                _posting(snap.facts.get("announcement_posting")),
            )
        )
    else:
        notice = snap.facts["procedures"][procedure]["notice"]
        if not notice:
            raise NoNoticePublished()
        published = datetime.fromisoformat(notice["published_at"])
        first_day = local_date(published) + timedelta(days=1)
        title, lines = notice_lines(
            Notice(
                public(published),
                elimination=procedure == Procedure.elimination,
                first_day=first_day,
                last_day=first_day + timedelta(days=notice["days"] - 1),
                days=notice["days"],
                location=notice.get("location"),
            )
        )
    if format == "html":
        return HTMLResponse(as_html(title, lines))
    return PlainTextResponse(as_text(title, lines))


def _posting(recorded: dict[str, str] | None) -> tuple[date, str] | None:
    if not recorded:
        return None
    return date.fromisoformat(recorded["posted_on"]), recorded["location"]
