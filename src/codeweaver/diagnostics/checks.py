"""Check results shared by the doctor's remote and local modes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from codeweaver.errors import CodeWeaverError

__all__ = ["Check", "Status", "exit_code", "run_check", "worst"]

Status = Literal["PASS", "WARN", "FAIL", "SKIP"]
_RANK: dict[str, int] = {"SKIP": 0, "PASS": 0, "WARN": 1, "FAIL": 2}
EXIT_WARN = 3


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_check(name: str, fn: Callable[[], tuple[Status, str]]) -> Check:
    """Run one check; an error inside it is a FAIL with the error's message."""
    try:
        status, detail = fn()
    except CodeWeaverError as exc:
        status, detail = "FAIL", str(exc)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        status, detail = "FAIL", f"{type(exc).__name__}: {exc}"
    return Check(name, status, detail)


def worst(checks: Iterable[Check]) -> Status:
    status: Status = "PASS"
    for c in checks:
        if _RANK[c.status] > _RANK[status]:
            status = c.status
    return status


def exit_code(checks: Iterable[Check]) -> int:
    """0 when nothing failed or warned, 1 on any FAIL, 3 when the worst is a WARN."""
    return {"PASS": 0, "SKIP": 0, "WARN": EXIT_WARN, "FAIL": 1}[worst(checks)]
