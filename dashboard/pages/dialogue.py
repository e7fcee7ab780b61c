"""Диалог: audio, clickable transcript segments, the analysis and the re-run buttons."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import panel as pn

from dashboard import access, queries, safe
from dashboard import strings as S
from dashboard.pages import speakers
from dashboard.pages.common import layout, local_time, number, status, yes_no
from dashboard.pages.receipts import dialogue_receipt
from dashboard.review import review_note
from dashboard.users import User
from salescontrol import messages, storage
from salescontrol.errors import SalesControlError

log = logging.getLogger(__name__)


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{seconds % 60:04.1f}"


def _analysis(d: dict[str, Any]) -> safe.Html:
    """The analysis as markup; every value from the LLM or the rules escaped."""
    if not d["analysed"]:
        return safe.html(
            "<p>{text}</p>", text=S.NO_ANALYSIS.format(status=status(d["analysis_status"]))
        )
    parts = []
    if d["is_sales_dialogue"] is False:
        parts.append(safe.html("<p><em>{text}</em></p>", text=S.NOT_SALES))
    parts.append(
        safe.html(
            "<p><strong>{attempted}:</strong> {a}<br><strong>{accepted}:</strong> {b}<br>"
            "<strong>{quality}:</strong> {q} / 10</p><h4>{offers}</h4>",
            attempted=S.ATTEMPTED,
            a=yes_no(d["attempted"]),
            accepted=S.ACCEPTED,
            b=yes_no(d["accepted"]),
            quality=S.QUALITY,
            q=number(d["quality_score"], 0),
            offers=S.OFFERS,
        )
    )
    offers = (
        [o for o in d["offers"] if isinstance(o, dict)] if isinstance(d["offers"], list) else []
    )
    items = [
        safe.html(
            "<li><strong>{product}</strong> ({verdict}): «{quote}»</li>",
            product=offer.get("product", S.NO_VALUE),
            verdict=S.OFFER_ACCEPTED if offer.get("accepted") else S.OFFER_DECLINED,
            quote=offer.get("quote") or "",
        )
        for offer in offers
    ]
    if items:
        parts.append(safe.html("<ul>{items}</ul>", items=safe.join(items)))
    else:
        parts.append(safe.html("<p>{text}</p>", text=S.NO_OFFERS))
    parts.append(
        safe.html(
            "<p><strong>{summary}:</strong> {s}</p><p><strong>{recommendation}:</strong> {r}</p>"
            "<p><small>{analyzer}: {a} · {model}: {m} · {version}: {v}</small></p>",
            summary=S.SUMMARY,
            s=d["summary"] or S.NO_VALUE,
            recommendation=S.RECOMMENDATION,
            r=d["recommendation"] or S.NO_VALUE,
            analyzer=S.ANALYZER,
            a=d["analyzer"],
            model=S.MODEL,
            m=d["model"] or S.NO_VALUE,
            version=S.PROMPT_VERSION,
            v=d["prompt_version"] or S.NO_VALUE,
        )
    )
    return safe.join(parts)


def _audio_url(object_name: str | None) -> str | None:
    if not object_name:
        return None
    try:
        return storage.signed_get_url(object_name)
    except (SalesControlError, OSError, ValueError) as exc:
        log.warning("signing audio URL for %s failed: %s", object_name, exc)
        return None


def _rerun_buttons(user: User, d: dict[str, Any]) -> pn.Column:
    """The re-run buttons (managers and the owner only); each press checks again that the
    login holds, the role may act and the dialogue is within reach, then publishes."""
    notice = pn.pane.Alert(visible=False, sizing_mode="stretch_width")
    dialogue_id = d["dialogue_id"]

    def send(payload: messages.Payload, what: str) -> None:
        try:
            with access.transaction(user, act=True) as conn:
                if queries.dialogue(conn, dialogue_id, user.reach) is None:
                    raise access.NotAllowed()
            messages.publish(payload)
        except SalesControlError as exc:
            failed = safe.html(S.RERUN_FAILED, error=exc)
            notice.object, notice.alert_type = failed, "danger"
        else:
            notice.object, notice.alert_type = S.RERUN_SENT.format(what=what), "success"
        notice.visible = True

    analysis = pn.widgets.Button(name=S.RERUN_ANALYSIS, button_type="primary")
    analysis.on_click(
        lambda _: send(messages.TranscriptReady(str(dialogue_id), force=True), S.RERUN_ANALYSIS)
    )
    asr = pn.widgets.Button(name=S.RERUN_ASR, disabled=not d["audio_object"])
    asr.on_click(
        lambda _: send(
            messages.AsrRequest(str(dialogue_id), d["audio_object"], tier="accurate", force=True),
            S.RERUN_ASR,
        )
    )
    return pn.Column(pn.Row(analysis, asr), notice)


def dialogue_page(user: User, raw: str | None = None) -> pn.template.BootstrapTemplate:
    """One dialogue (?id=): audio, clickable transcript segments, analysis, re-run buttons
    (for users who may act); a dialogue out of the user's reach is "not found"."""
    if raw is None:
        raw = pn.state.session_args.get("id", [b""])[0].decode()
    back = pn.pane.HTML(f'<a href="./dialogues">{S.BACK}</a>')
    try:
        dialogue_id = uuid.UUID(raw)
    except ValueError:
        return layout(S.DIALOGUE, back, S.NOT_FOUND)
    with access.transaction(user) as conn:
        d = queries.dialogue(conn, dialogue_id, user.reach)
    if d is None:
        return layout(S.DIALOGUE, back, S.NOT_FOUND)

    header = safe.html(
        "<p><strong>{point} · {register}</strong> · {at} · {seconds} с · "
        "{asr}: {asr_status} · {analysis}: {analysis_status}</p>",
        point=d["point_name"] or S.NO_VALUE,
        register=d["register_name"] or S.NO_VALUE,
        at=local_time(d["started_at"], "%d.%m.%Y %H:%M:%S"),
        seconds=f"{d['duration_sec']:.0f}",
        asr=S.COLUMNS["asr_status"],
        asr_status=status(d["asr_status"]),
        analysis=S.COLUMNS["analysis_status"],
        analysis_status=status(d["analysis_status"]),
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
            speakers.transcript_frame(segments, rows),
            titles={
                "role": S.COLUMNS["role"],
                "start": S.SEGMENT_START,
                "end": S.SEGMENT_END,
                "text": S.SEGMENT_TEXT,
            },
            show_index=False,
            disabled=True,
            sortable=False,
            selectable=False,
            layout="fit_data_stretch",
            sizing_mode="stretch_width",
            css_classes=["transcript"],
        )
        speakers.colour_roles(transcript, segments)
        if audio is not None:

            def play_from(event: Any) -> None:
                start = float(segments[event.row].get("start", 0)) if segments else 0.0
                audio.time = start
                audio.paused = False

            transcript.on_click(play_from)
    return layout(
        S.DIALOGUE,
        back,
        safe.pane(header, css_classes=["dialogue-header"]),
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
                safe.pane(_analysis(d), css_classes=["analysis"]),
                *([_rerun_buttons(user, d)] if user.can_act else []),
                *dialogue_receipt(user, dialogue_id),
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        ),
    )
