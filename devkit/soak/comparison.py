"""A faulted run against the fault-free reference run of the same input: the reference
held its own invariants, and both made the same dialogues, transcripts and analyses."""

from __future__ import annotations

from devkit.soak import canonical
from devkit.soak.report import Check, Report

SAME_AS_REFERENCE = "dialogues, transcripts, analyses equal to a fault-free run"


def reference_held(reference: Report) -> Check:
    """The fault-free run, the yardstick, passed its own invariants."""
    return Check.of(
        "the fault-free reference run's invariants hold",
        reference.ok,
        str(reference.failed())[:300],
    )


def same_as_reference(expected: canonical.Dump, actual: canonical.Dump) -> Check:
    """The faulted run made the same dialogues, transcripts and analyses."""
    diff = canonical.differences(expected, actual)
    return Check.of(
        SAME_AS_REFERENCE,
        bool(expected.get("dialogues")) and not diff,
        "; ".join(diff) or f"rows: {canonical.size(actual)}",
    )


def not_compared() -> Check:
    """Not applicable: a run without faults is the reference itself."""
    return Check.of(
        SAME_AS_REFERENCE,
        None,
        "this run is the fault-free one (--faults compares a faulted run with it)",
    )
