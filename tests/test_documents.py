"""The notice and announcement show what may be public, and never anything else."""

from __future__ import annotations

from datetime import timedelta

from app.households.idnumber import mask
from tests.helpers import (
    APPLICATION,
    CLASSIFICATION,
    COMMITMENT_FORM,
    HOME_VISIT,
    PASSING_REVIEW,
    VERIFICATION,
    Api,
    new_id_number,
)
from workflows.vocabulary import RiskType

RISK_TITLES = [
    "因病",
    "因残",
    "因学",
    "因灾",
    "因自然灾害",
    "因意外事故",
    "因产业项目失败",
    "因务工就业不稳",
    "缺劳动力",
    "因安全住房",
    "因安全饮水",
]


async def test_no_forbidden_value_reaches_any_public_document(api: Api) -> None:
    head_id, member_id = new_id_number(), new_id_number("19990101", "female")
    phone = "13911112222"
    sentinels = {
        "description": "SENTINEL-DESCRIPTION 患大病 尿毒症",
        "source": "SENTINEL-SOURCE",
        "objection": "SENTINEL-OBJECTION 有存款",
        "objector": "SENTINEL-OBJECTOR",
        "findings": "SENTINEL-FINDINGS 残疾二级",
        "opinion": "SENTINEL-OPINION",
        "guarantee_notes": "SENTINEL-GUARANTEES 慢性病",
        "bank": "6222020200112233445",
    }
    response = await api.post(
        "cadre.pinggang",
        "/api/v1/cases",
        {
            "channel": "self_declared",
            "application_sha256": APPLICATION,
            "source": sentinels["source"],
            "description": sentinels["description"] + " 银行卡" + sentinels["bank"],
            "risk_type": "illness",
            "household": {
                "head_name": "王德福",
                "head_id_number": head_id,
                "village_code": "220281102200",
                "size": 4,
                "phone": phone,
            },
        },
    )
    assert response.status_code == 201, response.text
    case_id = response.json()["id"]
    await api.must("cadre.pinggang", case_id, "start_village_review")
    household_id = response.json()["household"]["id"]
    member = await api.post(
        "cadre.pinggang",
        f"/api/v1/households/{household_id}/members",
        {
            "name": "王小红",
            "id_number": member_id,
            "relation": "daughter",
            "labour_skill": "lost",
            "health": "disabled",
            "education": "primary",
            "school_status": "not_in_school",
            "medical_insurance": True,
            "social_assistance": "dibao",
        },
    )
    assert member.status_code == 201, member.text
    await api.must_fact(
        "cadre.pinggang",
        case_id,
        "commitment-forms",
        {**COMMITMENT_FORM, "covered_member_id_numbers": [head_id, member_id]},
    )
    await api.must_fact(
        "cadre.pinggang",
        case_id,
        "household-verifications",
        {
            **VERIFICATION,
            "guarantees": {
                **VERIFICATION["guarantees"],  # type: ignore[dict-item]
                "notes": sentinels["guarantee_notes"],
            },
        },
    )
    await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    await api.must("committee.pinggang", case_id, "publish_notice", {"location": "村务公开栏"})
    lodged = await api.must_fact(
        "cadre.pinggang",
        case_id,
        "objections",
        {"lodged_by_name": sentinels["objector"], "statement": sentinels["objection"]},
    )
    objection_id = next(iter(lodged["facts"]["procedures"]["identification"]["objections"]))
    notice_text = (
        await api.get("cadre.pinggang", f"/api/v1/cases/{case_id}/documents/notice")
    ).text
    await api.must_fact(
        "township.baishishan",
        case_id,
        f"objections/{objection_id}/resolution",
        {"outcome": "dismissed", "reason": "核实无存款"},
    )
    api.clock.advance(timedelta(days=6))
    await api.must("committee.pinggang", case_id, "submit_to_township")
    await api.must_fact(
        "township.baishishan",
        case_id,
        "home-visits",
        {**HOME_VISIT, "findings": sentinels["findings"], "opinion": sentinels["opinion"]},
    )
    await api.must("township.baishishan", case_id, "submit_to_city")
    all_risks = [r.value for r in RiskType][:5]
    await api.must_fact(
        "bureau.jiaohe", case_id, "classification", {**CLASSIFICATION, "risk_types": all_risks}
    )
    await api.must("bureau.jiaohe", case_id, "confirm")

    documents = [notice_text]
    for name in ("notice", "announcement"):
        for fmt in ("text", "html"):
            response = await api.get(
                "cadre.pinggang", f"/api/v1/cases/{case_id}/documents/{name}", format=fmt
            )
            assert response.status_code == 200, response.text
            documents.append(response.text)
    forbidden = [
        head_id,
        member_id,
        mask(head_id),
        mask(member_id),
        phone,
        *sentinels.values(),
        *[r.value for r in RiskType],
        *RISK_TITLES,
        "患大病",
        "残疾",
        "慢性病",
        "尿毒症",
        # the member's registry facts: health, labour, schooling, assistance, even the name
        "disabled",
        "lost",
        "not_in_school",
        "非在校生",
        "dibao",
        "低保",
        "王小红",
    ]
    for text in documents:
        for value in forbidden:
            assert value not in text, f"{value!r} appears in a public document"
    # what must be there
    assert "王德福" in documents[0]
    assert "平岗村" in documents[0]
    assert "4人" in documents[0]
    assert "2026年3月3日至2026年3月7日（共5天）" in documents[0]
    assert "村务公开栏" in documents[0]
    assert "突发严重困难户" in documents[3]
    assert "赵帮扶" in documents[3]


async def test_documents_exist_only_once_their_step_happened(api: Api) -> None:
    case_id = await api.to_village_nomination()
    for name in ("notice", "announcement", "elimination_notice"):
        response = await api.get("cadre.pinggang", f"/api/v1/cases/{case_id}/documents/{name}")
        assert response.status_code == 409, name
        assert response.json()["code"] == "document_not_available"
    unknown = await api.get("cadre.pinggang", f"/api/v1/cases/{case_id}/documents/letter")
    assert unknown.status_code == 404
    elsewhere = await api.get("cadre.laodong", f"/api/v1/cases/{case_id}/documents/notice")
    assert elsewhere.status_code == 404
    assert elsewhere.json()["code"] == "case_not_found"


async def test_printable_page_escapes_what_it_shows(api: Api) -> None:
    # the location is free text: it must come out escaped, never as markup
    case_id = await api.to_village_nomination()
    await api.nominate(case_id, location="<script>alert(1)</script>")
    page = await api.get(
        "cadre.pinggang", f"/api/v1/cases/{case_id}/documents/notice", format="html"
    )
    assert page.headers["content-type"].startswith("text/html")
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text
