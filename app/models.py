"""Every model, imported once so that Alembic sees the whole metadata."""

from app.access_log.models import AccessLogEntry
from app.areas.models import Area
from app.audit.models import Checkpoint, LogEntry, TreeNode
from app.cases.models import Case, CaseEvent
from app.core.blind import BlindIndexAlias
from app.core.db import Base
from app.core.idempotency_model import IdempotencyRecord
from app.core.release import SchemaRelease
from app.department_data.models import DepartmentRecord, DepartmentSnapshot
from app.department_warnings.models import DepartmentWarning, WarningBatch, WarningDisposition
from app.elimination_rounds.models import EliminationRound
from app.exports.models import (
    ExportBatch,
    ExportItem,
    NationalDocument,
    NationalSync,
)
from app.fund.models import Disbursement, FundYear, LedgerEntry
from app.households.models import Household, Member
from app.indicators.models import AlertProposal, WarningIndicator
from app.intake.models import IntakeReceipt
from app.national_sheet.models import CodeListCorrection
from app.obligations.models import Completion
from app.policies.models import PolicyVersion
from app.screening.models import ScreeningRound, ScreeningTask, ScreeningVisit
from app.timers.models import Timer
from app.warning_lists.models import WarningList

__all__ = [
    "AccessLogEntry",
    "AlertProposal",
    "Area",
    "Base",
    "BlindIndexAlias",
    "Case",
    "CaseEvent",
    "Checkpoint",
    "CodeListCorrection",
    "Completion",
    "DepartmentRecord",
    "DepartmentSnapshot",
    "DepartmentWarning",
    "Disbursement",
    "EliminationRound",
    "ExportBatch",
    "ExportItem",
    "FundYear",
    "Household",
    "IdempotencyRecord",
    "IntakeReceipt",
    "LedgerEntry",
    "LogEntry",
    "Member",
    "NationalDocument",
    "NationalSync",
    "PolicyVersion",
    "SchemaRelease",
    "ScreeningRound",
    "ScreeningTask",
    "ScreeningVisit",
    "Timer",
    "TreeNode",
    "WarningBatch",
    "WarningDisposition",
    "WarningIndicator",
    "WarningList",
]
