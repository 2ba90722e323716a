"""One registry of problem codes and one of rule codes: every raise site names a registered
code with the status it is registered with, and every rule answers a registered rule code."""

from __future__ import annotations

import ast
import errno
import socket
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from app.cases import errors as case_errors
from app.core import errors
from app.core.limits import PayloadTooLarge
from app.core.problems import PROBLEMS
from app.core.ratelimit import TooManyRequests
from app.department_warnings.service import UnsupportedMediaType
from workflows.rule_codes import RULE_CODES
from workflows.rules import RULES

ROOT = Path(__file__).parents[1]
FAMILIES = {
    cls.__name__: cls.status
    for cls in (
        errors.Unauthorized,
        errors.Forbidden,
        errors.NotFound,
        errors.Unprocessable,
        errors.Conflict,
        errors.PreconditionFailed,
        errors.PreconditionRequired,
        PayloadTooLarge,
        TooManyRequests,
        UnsupportedMediaType,
    )
}
FAMILIES["RegistryConflict"] = 422
FAMILIES["Unreadable"] = 422  # department warnings' parser: answered as Unprocessable


def _calls(folder: str, names: set[str]) -> list[tuple[str, int, str, str]]:
    """(file, line, callee, first argument) of every call to ``names`` with a literal code."""
    found: list[tuple[str, int, str, str]] = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in names and node.args and isinstance(node.args[0], ast.Constant):
                found.append(
                    (str(path.relative_to(ROOT)), node.lineno, str(name), str(node.args[0].value))
                )
    return found


def test_every_raised_problem_code_is_registered_with_its_status() -> None:
    calls = _calls("app", set(FAMILIES) | {"ProblemError"})
    assert len(calls) > 20  # the scan sees the raise sites (declared errors: the test below)
    wrong = [
        f"{file}:{line} {name}({code!r})"
        for file, line, name, code in calls
        if code not in PROBLEMS or (name in FAMILIES and PROBLEMS[code].status != FAMILIES[name])
    ]
    assert not wrong, "unregistered or registered with another status:\n" + "\n".join(wrong)


def test_a_code_the_registry_lacks_cannot_be_raised() -> None:
    with pytest.raises(KeyError):
        errors.Conflict("no_such_code", "x")
    with pytest.raises(ValueError, match="registered as 404"):
        errors.Conflict("case_not_found", "x")  # a 404 code raised as a 409


def _declared(base: type[errors.Problem]) -> list[type[errors.Problem]]:
    found: list[type[errors.Problem]] = []
    for cls in base.__subclasses__():
        found += [cls, *_declared(cls)]
    return found


def test_domain_errors_are_declared_with_a_registered_code_and_its_status() -> None:
    import app.main  # noqa: F401 (every domain, with its errors)

    declared = [cls for cls in _declared(errors.Problem) if "code" in cls.__dict__]
    domains: tuple[str, ...] = ("audit", "auth", "cases", "department_data")
    domains += ("department_warnings",)
    domains += ("elimination_rounds", "exports", "fund", "households", "indicators", "intake")
    domains += ("notices", "obligations", "policies", "screening", "warning_lists")
    modules = {f"app.{domain}.errors" for domain in domains}
    assert {cls.__module__ for cls in declared} >= modules
    assert len(declared) > 90
    for cls in declared:
        assert cls.status == PROBLEMS[cls.code].status, cls
    refusal = case_errors.VersionMismatch(7, '"6"')
    assert (refusal.status, refusal.code) == (412, "version_mismatch")
    assert refusal.body()["current_version"] == 7
    assert case_errors.CaseNotFound("c1").body()["detail"] == "No case c1 in your area."
    with pytest.raises(KeyError):  # a code the registry lacks fails where it is declared

        class Unregistered(errors.Problem):
            code = "no_such_code"


def test_every_rule_code_is_registered() -> None:
    answered = {code for rule in RULES.values() for code in rule.codes}
    answered |= {code for *_, code in _calls("workflows", {"Unmet"})}
    answered |= {code for *_, code in _calls("app", {"Unmet"})}
    assert len(answered) > 30
    assert answered <= set(RULE_CODES), answered - set(RULE_CODES)


def test_every_registered_code_has_both_titles() -> None:
    for kind in PROBLEMS.values():
        assert kind.zh, kind
        assert kind.en, kind
        assert kind.zh != kind.en, kind
    for code, (zh, en) in RULE_CODES.items():
        assert zh, code
        assert en, code
        assert zh != en, code


def test_only_a_lost_database_connection_is_a_503() -> None:
    """The database's connection refused, reset, closed under a query or not yet accepting:
    503 database_unavailable with Retry-After. Any other failure, an OSError of the server's
    own included (a full disk, a missing file), stays 500 internal_error."""

    class CannotConnectNowError(Exception):  # asyncpg's, by name: the server is starting
        pass

    wrapped = OperationalError("SELECT 1", {}, ConnectionResetError(errno.ECONNRESET, "reset"))
    invalidated = OperationalError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)
    unavailable = [
        ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
        OSError(errno.EHOSTUNREACH, "no route to host"),
        socket.gaierror(-2, "Name or service not known"),
        CannotConnectNowError("the database system is starting up"),
        wrapped,
        invalidated,
    ]
    for exc in unavailable:
        error, headers = errors.server_problem(exc, "x")
        assert (error.status, error.code, headers) == (
            503,
            "database_unavailable",
            {"Retry-After": "1"},
        ), exc
    not_ours = [
        OSError(errno.ENOSPC, "No space left on device"),
        FileNotFoundError(errno.ENOENT, "missing"),
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        ValueError("a bug"),
    ]
    for exc in not_ours:
        error, headers = errors.server_problem(exc, "x")
        assert (error.status, error.code, headers) == (500, "internal_error", {}), exc
