"""Department data for the comparison: datasets, and snapshot uploads."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated, Any

import rfc8785
from fastapi import Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.auth.dependencies import ClockDep, CurrentPrincipal, SettingsDep
from app.auth.errors import RoleRefused
from app.core import blind
from app.core.db import SessionDep
from app.core.errors import validation_problem
from app.core.routing import api_router
from app.department_data import repository as repo
from app.department_data.errors import DatasetNotFound
from app.department_data.models import DepartmentSnapshot
from app.households import idnumber
from app.households.schemas import IdNumber
from workflows.comparison import DATASETS
from workflows.permissions import Permission, allowed
from workflows.vocabulary import Role

router = api_router(prefix="/api/v1/department-data", tags=["department-data"])


class RecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_number: IdNumber
    attributes: dict[str, Any]


class SnapshotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records: Annotated[list[RecordIn], Field(max_length=10000)]


class SnapshotOut(BaseModel):
    id: str
    dataset: str
    department: str
    row_count: int
    sha256: str
    imported_at: Any


class DatasetOut(BaseModel):
    name: str
    department: str
    title: str
    attributes_schema: dict[str, Any]


@router.get("/datasets", response_model=list[DatasetOut])
async def datasets(principal: CurrentPrincipal) -> list[DatasetOut]:
    """The datasets the comparison knows, with the shape of a record's attributes."""
    if not allowed(principal.role, Permission.department_data_read):
        raise RoleRefused("Department data is for departments and the city.")
    return [
        DatasetOut(
            name=d.name,
            department=d.department,
            title=d.title,
            attributes_schema=d.attributes.model_json_schema(),
        )
        for d in DATASETS.values()
    ]


@router.post(
    "/{dataset}/snapshots",
    response_model=SnapshotOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": SnapshotOut, "description": "The same upload was already stored."}},
)
async def upload_snapshot(
    dataset: str,
    body: SnapshotIn,
    response: Response,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> SnapshotOut:
    """A department's current data for one dataset; it replaces the previous snapshot in
    comparisons. People are stored by a keyed digest and a masked number, never in full."""
    spec = DATASETS.get(dataset)
    if spec is None:
        raise DatasetNotFound(dataset)
    if not allowed(principal.role, Permission.department_data_upload) or (
        principal.role == Role.department and principal.department != spec.department
    ):
        raise RoleRefused(f"Only {spec.department} or the city uploads it.")
    errors = []
    for index, record in enumerate(body.records):
        try:
            spec.attributes.model_validate(record.attributes)
        except ValidationError as exc:
            errors += [
                {**e, "loc": ("records", index, "attributes", *e["loc"])} for e in exc.errors()
            ]
    if errors:
        raise validation_problem(errors)
    sha256 = hashlib.sha256(rfc8785.dumps(body.model_dump(mode="json"))).hexdigest()
    existing = await repo.snapshot_by_digest(session, dataset, sha256)
    if existing is not None:
        response.status_code = status.HTTP_200_OK
        snapshot = existing
    else:
        snapshot = DepartmentSnapshot(
            id=str(uuid.uuid4()),
            dataset=dataset,
            department=spec.department,
            imported_at=clock.now(),
            imported_by=principal.sub,
            row_count=len(body.records),
            sha256=sha256,
        )
        keys = blind.blind_of(settings)
        await repo.add_snapshot(
            session,
            snapshot,
            [
                {
                    "snapshot_id": snapshot.id,
                    "dataset": dataset,
                    "id_digest": keys.digest(r.id_number),
                    "id_masked": idnumber.mask(r.id_number),
                    "attributes": r.attributes,
                }
                for r in body.records
            ],
        )
        await blind.remember(session, keys, [r.id_number for r in body.records])
    return SnapshotOut(
        id=snapshot.id,
        dataset=snapshot.dataset,
        department=snapshot.department,
        row_count=snapshot.row_count,
        sha256=snapshot.sha256,
        imported_at=snapshot.imported_at,
    )
