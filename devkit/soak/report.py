"""What a soak run reports: its checks (each passed, failed or not applicable) and figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASSED, FAILED, NOT_APPLICABLE = "passed", "failed", "not_applicable"


@dataclass
class Check:
    """One invariant and how it came out."""

    name: str
    status: str
    detail: str = ""

    @classmethod
    def of(cls, name: str, holds: bool | None, detail: str = "") -> Check:
        """A check from whether it holds; None: not applicable to this run."""
        return cls(name, NOT_APPLICABLE if holds is None else PASSED if holds else FAILED, detail)


@dataclass
class Report:
    """Everything one run measured and checked; `as_dict()` is the JSON report."""

    options: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    components: dict[str, dict[str, float]] = field(default_factory=dict)
    backlog_peak: dict[str, int] = field(default_factory=dict)
    reference: dict[str, Any] = field(default_factory=dict)  # the fault-free run's figures
    bad_inputs: list[dict[str, Any]] = field(default_factory=list)  # each bad chunk's fate

    @property
    def ok(self) -> bool:
        return all(c.status != FAILED for c in self.checks)

    def check(self, name: str, holds: bool | None, detail: str = "") -> None:
        """Record a check (see `Check.of`)."""
        self.checks.append(Check.of(name, holds, detail))

    def failed(self) -> list[dict[str, Any]]:
        """The failed checks, as plain dicts."""
        return [asdict(c) for c in self.checks if c.status == FAILED]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}
