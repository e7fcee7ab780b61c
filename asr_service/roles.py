"""Who said what: each transcript segment gets `role` (seller | customer) and `role_conf`.

The vad stage stored a voice embedding and a loudness for every second or so of speech
(`speech_windows`). For a transcribed dialogue this module reads its windows, finds the
seller's voice (`speakers.dominant_voice`: one of the point's known sellers if heard,
else the louder of the two main voices), labels each window, then each word of the
transcript by the windows it falls in; a segment whose words change role is split there.

The point's sellers are learned here from its own audio: the seller's voice of each
dialogue is matched to the point's seller voices (cosine >= `SAME_SELLER`) and averaged
into the nearest, or starts a new candidate; a candidate heard as the seller in
`SELLER_AFTER` dialogues becomes a seller ("Продавец N" until the owner names it). The
dialogue row records which seller it was (`dialogues.seller_id`).
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol import speakers, voices
from salescontrol.db import advisory_key

SELLER_AFTER = 3  # dialogues before a recurring voice is called a seller
SAME_SELLER = 0.7  # cosine at or above which a dialogue's seller is a known voice
CANDIDATES_KEPT = 50  # voices not (yet) sellers kept per point, the newest
PARAMS = speakers.Params()


def _p_seller(w: speakers.Window, seller: np.ndarray, seller_db: float) -> float:
    """How sure `w` is the seller: near their voice, as loud as they are (0..1)."""
    z = (w.level_db - seller_db + PARAMS.quieter_db) / 2
    if w.embedding is not None:
        z += (float(w.embedding @ seller) - PARAMS.customer_below - 0.05) / 0.08
    return float(1 / (1 + np.exp(-np.clip(z, -30, 30))))


def turns(windows: list[speakers.Window], seller: np.ndarray) -> list[tuple[int, int, str, float]]:
    """(start_ms, end_ms, role, confidence) of each window, neighbours of a role joined."""
    loud = speakers.seller_level(windows, seller, PARAMS)
    out: list[tuple[int, int, str, list[float]]] = []
    for w in windows:
        p = _p_seller(w, seller, loud)
        if w.embedding is not None:
            customer = speakers.is_customer(w, seller, loud, PARAMS)
        else:
            customer = p < 0.5
        role, conf = ("customer", 1 - p) if customer else ("seller", p)
        if out and out[-1][2] == role and w.start_ms - out[-1][1] < 1000:
            out[-1] = (out[-1][0], w.end_ms, role, [*out[-1][3], conf])
        else:
            out.append((w.start_ms, w.end_ms, role, [conf]))
    return [(a, b, role, round(float(np.mean(c)), 3)) for a, b, role, c in out]


def _role_at(spans: list[tuple[float, float, str, float]], a: float, b: float) -> tuple[str, float]:
    """The role over [a, b] (seconds): the turn overlapping most, else the nearest one
    (at half its confidence)."""
    overlap: dict[str, float] = {}
    for s, e, role, _ in spans:
        if min(b, e) > max(a, s):
            overlap[role] = overlap.get(role, 0.0) + min(b, e) - max(a, s)
    if overlap:
        role = max(overlap, key=lambda r: (overlap[r], r))
        conf = min(c for s, e, r, c in spans if r == role and min(b, e) > max(a, s))
        return role, round(conf * overlap[role] / sum(overlap.values()), 3)
    near = min(spans, key=lambda t: min(abs(t[0] - b), abs(a - t[1])))
    return near[2], round(near[3] * 0.5, 3)


def label_segments(
    segments: list[dict[str, Any]], spans: list[tuple[float, float, str, float]]
) -> list[dict[str, Any]]:
    """Transcript segments with `role` and `role_conf` from turns in the audio's seconds;
    a segment whose words change role is split between them. No turns: unchanged."""
    if not spans:
        return segments
    out: list[dict[str, Any]] = []
    for seg in segments:
        words = seg.get("words") or []
        if not words:
            role, conf = _role_at(spans, seg["start"], seg["end"])
            out.append({**seg, "role": role, "role_conf": conf})
            continue
        runs: list[tuple[str, list[float], list[dict[str, Any]]]] = []
        for w in words:
            role, conf = _role_at(spans, w["start"], w["end"])
            if runs and runs[-1][0] == role:
                runs[-1][1].append(conf)
                runs[-1][2].append(w)
            else:
                runs.append((role, [conf], [w]))
        for role, confs, ws in runs:
            piece = {**seg, "words": ws, "role": role, "role_conf": round(float(np.mean(confs)), 3)}
            if len(runs) > 1:
                text = " ".join(w["word"] for w in ws)
                piece |= {"start": ws[0]["start"], "end": ws[-1]["end"], "text": text}
            out.append(piece)
    return out


def _sellers(conn: Connection, point_id: UUID) -> list[Any]:
    return conn.execute(
        sa.text(
            "SELECT seller_id, voice, dialogues, number FROM sellers "
            "WHERE point_id = :p AND merged_into IS NULL ORDER BY created_at, seller_id"
        ),
        {"p": point_id},
    ).all()


def learn_seller(conn: Connection, point_id: UUID, voice: np.ndarray) -> UUID:
    """The point's seller voice nearest `voice`, updated with it, or a new candidate."""
    conn.execute(
        sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key(f"sellers:{point_id}")}
    )
    known = [(r, voices.unpack(r.voice)) for r in _sellers(conn, point_id)]
    best = max(known, key=lambda k: float(k[1] @ voice), default=None)
    if best is not None and float(best[1] @ voice) >= SAME_SELLER:
        row, centre = best
        n = min(row.dialogues, 50)  # a slowly moving average: voices drift, mics move
        conn.execute(
            sa.text(
                "UPDATE sellers SET voice = :v, dialogues = dialogues + 1, updated_at = now(), "
                "number = coalesce(number, CASE WHEN dialogues + 1 >= :k THEN "
                "(SELECT coalesce(max(number), 0) + 1 FROM sellers WHERE point_id = :p) END) "
                "WHERE seller_id = :s"
            ),
            {
                "v": voices.pack(speakers.unit(centre * n + voice)),
                "k": SELLER_AFTER,
                "p": point_id,
                "s": row.seller_id,
            },
        )
        return row.seller_id
    seller_id = uuid.uuid4()
    conn.execute(
        sa.text(
            "INSERT INTO sellers (seller_id, point_id, voice, dialogues) VALUES (:s, :p, :v, 1)"
        ),
        {"s": seller_id, "p": point_id, "v": voices.pack(voice)},
    )
    conn.execute(
        sa.text(
            "DELETE FROM sellers WHERE seller_id IN (SELECT seller_id FROM sellers "
            "WHERE point_id = :p AND number IS NULL ORDER BY updated_at DESC OFFSET :n)"
        ),
        {"p": point_id, "n": CANDIDATES_KEPT},
    )
    return seller_id


def label(
    conn: Connection, dialogue_id: UUID, segments: list[dict[str, Any]], audio_sec: float
) -> list[dict[str, Any]]:
    """`segments` of the dialogue's audio with roles; learns and records its seller.
    Without voice windows (speech from before they were stored) nothing changes."""
    d = conn.execute(
        sa.text(
            "SELECT device_id, point_id, start_ms, end_ms, seller_id FROM dialogues "
            "WHERE dialogue_id = :d"
        ),
        {"d": dialogue_id},
    ).one()
    heard = voices.windows(conn, d.device_id, d.start_ms, d.end_ms)
    known = [voices.unpack(r.voice) for r in _sellers(conn, d.point_id) if r.number is not None]
    seller = speakers.dominant_voice(heard, PARAMS, known)
    if seller is None:
        return segments
    if d.seller_id is None:  # a forced re-transcription does not count the voice twice
        seller_id = learn_seller(conn, d.point_id, seller)
        conn.execute(
            sa.text("UPDATE dialogues SET seller_id = :s WHERE dialogue_id = :d"),
            {"s": seller_id, "d": dialogue_id},
        )
    # The audio object starts DIALOGUE_PAD_SEC before the first speech (assembly.cut).
    origin = d.start_ms / 1000 - max(0.0, (audio_sec - (d.end_ms - d.start_ms) / 1000) / 2)
    spans = [(a / 1000 - origin, b / 1000 - origin, r, c) for a, b, r, c in turns(heard, seller)]
    return label_segments(segments, spans)
