"""Диалог: audio, clickable transcript segments, the analysis and the re-run buttons."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pandas as pd
import panel as pn

from dashboard import queries
from dashboard import strings as S
from dashboard.pages.common import layout, local_time, number, status, yes_no
from dashboard.review import review_note
from salescontrol import db, messages, storage
from salescontrol.errors import SalesControlError

log = logging.getLogger(__name__)


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{seconds % 60:04.1f}"


def _analysis_markdown(d: dict[str, Any]) -> str:
    if not d["analysed"]:
        return S.NO_ANALYSIS.format(status=status(d["analysis_status"]))
    lines = []
    if d["is_sales_dialogue"] is False:
        lines.append(f"*{S.NOT_SALES}*\n")
    lines += [
        f"**{S.ATTEMPTED}:** {yes_no(d['attempted'])}  ",
        f"**{S.ACCEPTED}:** {yes_no(d['accepted'])}  ",
        f"**{S.QUALITY}:** {number(d['quality_score'], 0)} / 10\n",
        f"#### {S.OFFERS}",
    ]
    offers = d["offers"] if isinstance(d["offers"], list) else []
    for offer in offers:
        verdict = S.OFFER_ACCEPTED if offer.get("accepted") else S.OFFER_DECLINED
        quote = offer.get("quote") or ""
        lines.append(f"- **{offer.get('product', S.NO_VALUE)}** ({verdict}): «{quote}»")
    if not offers:
        lines.append(S.NO_OFFERS)
    lines += [
        f"\n**{S.SUMMARY}:** {d['summary'] or S.NO_VALUE}\n",
        f"**{S.RECOMMENDATION}:** {d['recommendation'] or S.NO_VALUE}\n",
        f"<small>{S.ANALYZER}: {d['analyzer']} · {S.MODEL}: {d['model'] or S.NO_VALUE} · "
        f"{S.PROMPT_VERSION}: {d['prompt_version'] or S.NO_VALUE}</small>",
    ]
    return "\n".join(lines)


def _audio_url(object_name: str | None) -> str | None:
    if not object_name:
        return None
    try:
        return storage.signed_get_url(object_name)
    except (SalesControlError, OSError, ValueError) as exc:
        log.warning("signing audio URL for %s failed: %s", object_name, exc)
        return None


def _rerun_buttons(d: dict[str, Any]) -> pn.Column:
    notice = pn.pane.Alert(visible=False, sizing_mode="stretch_width")
    dialogue_id = str(d["dialogue_id"])

    def send(payload: messages.Payload, what: str) -> None:
        try:
            messages.publish(payload)
        except SalesControlError as exc:
            notice.object, notice.alert_type = S.RERUN_FAILED.format(error=exc), "danger"
        else:
            notice.object, notice.alert_type = S.RERUN_SENT.format(what=what), "success"
        notice.visible = True

    analysis = pn.widgets.Button(name=S.RERUN_ANALYSIS, button_type="primary")
    analysis.on_click(
        lambda _: send(messages.TranscriptReady(dialogue_id, force=True), S.RERUN_ANALYSIS)
    )
    asr = pn.widgets.Button(name=S.RERUN_ASR, disabled=not d["audio_object"])
    asr.on_click(
        lambda _: send(
            messages.AsrRequest(dialogue_id, d["audio_object"], tier="accurate", force=True),
            S.RERUN_ASR,
        )
    )
    return pn.Column(pn.Row(analysis, asr), notice)


def dialogue_page(raw: str | None = None) -> pn.template.BootstrapTemplate:
    """One dialogue (?id=): audio, clickable transcript segments, analysis, re-run buttons."""
    if raw is None:
        raw = pn.state.session_args.get("id", [b""])[0].decode()
    back = pn.pane.HTML(f'<a href="./dialogues">{S.BACK}</a>')
    try:
        dialogue_id = uuid.UUID(raw)
    except ValueError:
        return layout(S.DIALOGUE, back, S.NOT_FOUND)
    with db.transaction() as conn:
        d = queries.dialogue(conn, dialogue_id)
    if d is None:
        return layout(S.DIALOGUE, back, S.NOT_FOUND)

    header = (
        f"**{d['point_name'] or S.NO_VALUE} · {d['register_name'] or S.NO_VALUE}** · "
        f"{local_time(d['started_at'], '%d.%m.%Y %H:%M:%S')} · {d['duration_sec']:.0f} с · "
        f"{S.COLUMNS['asr_status']}: {status(d['asr_status'])} · "
        f"{S.COLUMNS['analysis_status']}: {status(d['analysis_status'])}"
    )
    url = _audio_url(d["audio_object"])
    audio = pn.pane.Audio(url, name="audio", sizing_mode="stretch_width") if url else None
    segments = [s for s in (d["segments"] or []) if isinstance(s, dict)]
    if d["text"] is None:
        transcript: Any = S.NO_TRANSCRIPT.format(status=status(d["asr_status"]))
    else:
        rows = [
            {
                "start": _clock(float(s.get("start", 0))),
                "end": _clock(float(s.get("end", 0))),
                "text": s.get("text", ""),
            }
            for s in segments
        ] or [{"start": _clock(0), "end": _clock(d["duration_sec"]), "text": d["text"]}]
        transcript = pn.widgets.Tabulator(
            pd.DataFrame(rows),
            titles={"start": S.SEGMENT_START, "end": S.SEGMENT_END, "text": S.SEGMENT_TEXT},
            show_index=False,
            disabled=True,
            sortable=False,
            selectable=False,
            layout="fit_data_stretch",
            sizing_mode="stretch_width",
            css_classes=["transcript"],
        )
        if audio is not None:

            def play_from(event: Any) -> None:
                start = float(segments[event.row].get("start", 0)) if segments else 0.0
                audio.time = start
                audio.paused = False

            transcript.on_click(play_from)
    return layout(
        S.DIALOGUE,
        back,
        pn.pane.Markdown(header),
        audio if audio is not None else pn.pane.Markdown(S.NO_AUDIO),
        pn.Row(
            pn.Column(
                f"### {S.TRANSCRIPT}",
                pn.pane.Markdown(f"*{S.TRANSCRIPT_HINT}*"),
                transcript,
                sizing_mode="stretch_width",
            ),
            pn.Column(
                f"### {S.ANALYSIS}",
                *[note for note in [review_note(d)] if note is not None],
                pn.pane.Markdown(_analysis_markdown(d), css_classes=["analysis"]),
                _rerun_buttons(d),
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        ),
    )
