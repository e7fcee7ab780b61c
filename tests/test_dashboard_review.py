"""The "на проверку" note on a dialogue's page: shown only when needed, always escaped."""

from __future__ import annotations

from dashboard.review import review_note


def test_no_note_without_a_review() -> None:
    assert review_note({"needs_review": False, "review_reason": None}) is None
    assert review_note({}) is None


def test_the_reason_is_shown_escaped() -> None:
    note = review_note({"needs_review": True, "review_reason": "<script>alert(1)</script>"})
    assert note is not None
    assert "На проверку" in note.object
    assert "<script>" not in note.object and "&lt;script&gt;" in note.object
