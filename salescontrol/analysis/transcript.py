"""A transcript as the analyzers read it: the text, and speaker turns when roles are known.

The ASR stage stores `dialogue_transcripts.segments` as [{start, end, text, ...}]; once
speakers are told apart each segment also has "role" (seller | customer | other) and
"role_conf". Consecutive segments of one role make a turn. Without roles (or with any
segment lacking one) there are no turns and the analyzers read the text alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROLES = ("seller", "customer", "other")


@dataclass(frozen=True)
class Turn:
    role: str  # seller | customer | other
    text: str


def turns_from_segments(segments: Any) -> list[Turn] | None:
    """Speaker turns from stored segments, or None when any segment has no known role."""
    if not isinstance(segments, list) or not segments:
        return None
    turns: list[Turn] = []
    for segment in segments:
        if not isinstance(segment, dict) or segment.get("role") not in ROLES:
            return None
        text = str(segment.get("text") or "").strip()
        if not text:
            continue
        if turns and turns[-1].role == segment["role"]:
            turns[-1] = Turn(turns[-1].role, f"{turns[-1].text} {text}")
        else:
            turns.append(Turn(segment["role"], text))
    return turns or None
