"""Устройства: the registry with health; register (token shown once), enable, disable."""

from __future__ import annotations

import uuid
from typing import Any

import panel as pn

from dashboard import access, queries, safe
from dashboard import strings as S
from dashboard.pages import speakers
from dashboard.pages.common import layout, local_time, table, yes_no
from dashboard.users import User
from salescontrol import devices
from salescontrol.errors import SalesControlError


def _health_value(health: dict[str, Any] | None, word: str) -> str:
    """The health report's entries whose key mentions `word` (its format is the recorder's)."""
    if not isinstance(health, dict):
        return S.NO_VALUE
    found = [f"{k}={v}" for k, v in health.items() if word in k.lower()]
    return ", ".join(found) or S.NO_VALUE


def _device_rows(conn: Any, user: User) -> list[dict[str, Any]]:
    return [
        {
            "point_name": dev["point_name"] or str(dev["point_id"]),
            "register_name": dev["register_name"] or str(dev["register_id"]),
            "device_id": str(dev["device_id"]),
            "is_enabled": yes_no(dev["is_enabled"]),
            "last_seen_at": local_time(dev["last_seen_at"]),
            "queue": _health_value(dev["last_health"], "queue"),
            "disk": _health_value(dev["last_health"], "disk"),
            "last_health_at": local_time(dev["last_health_at"]),
        }
        for dev in queries.devices(conn, user.reach)
    ]


def _uuid_or_new(value: str) -> uuid.UUID:
    value = value.strip()
    if not value:
        return uuid.uuid4()
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValueError(S.BAD_UUID.format(value=value)) from None


def devices_page(user: User) -> pn.template.BootstrapTemplate:
    """Devices within reach with their health; enable or disable one (managers and the
    owner); register one, its token shown once (the owner only: it creates points)."""
    listing = pn.Column(sizing_mode="stretch_width")
    notice = pn.pane.Alert(visible=False, sizing_mode="stretch_width")
    choose = pn.widgets.Select(name=S.SELECT_DEVICE, width=420)
    enable = pn.widgets.Button(name=S.ENABLE, button_type="success")
    disable = pn.widgets.Button(name=S.DISABLE, button_type="danger")
    device_id = pn.widgets.TextInput(name=S.DEVICE_ID, width=320)
    point_id = pn.widgets.TextInput(name=S.POINT_ID, width=320)
    point_name = pn.widgets.TextInput(name=S.POINT_NAME, width=320)
    register_id = pn.widgets.TextInput(name=S.REGISTER_ID, width=320)
    register_name = pn.widgets.TextInput(name=S.REGISTER_NAME, width=320)
    register = pn.widgets.Button(name=S.REGISTER_BUTTON, button_type="primary")

    def show(message: safe.Html, kind: str) -> None:
        notice.object, notice.alert_type, notice.visible = message, kind, True

    def refresh() -> None:
        with access.transaction(user) as conn:
            rows = _device_rows(conn, user)
        columns = ["point_name", "register_name", "device_id", "is_enabled", "last_seen_at"]
        listing[:] = [table(rows, [*columns, "queue", "disk", "last_health_at"])]
        choose.options = {
            f"{r['point_name']} · {r['register_name']} · {r['device_id']}": r["device_id"]
            for r in rows
        }
        if rows and choose.value not in choose.options.values():
            choose.value = rows[0]["device_id"]

    def on_register(_: Any) -> None:
        try:
            ids = [_uuid_or_new(w.value) for w in (device_id, point_id, register_id)]
            with access.transaction(user, act=True) as conn:
                if not user.is_owner:
                    raise access.NotAllowed()
                dev, token = devices.register(
                    conn,
                    *ids,
                    point_name=point_name.value.strip() or None,
                    register_name=register_name.value.strip() or None,
                )
        except (SalesControlError, ValueError) as exc:
            show(safe.html(S.ERROR, error=exc), "danger")
            return
        shown = safe.html(
            "{once}<br><code>{token}</code>",
            once=S.TOKEN_ONCE.format(device_id=dev.device_id),
            token=token,
        )
        show(shown, "success")
        for widget in (device_id, point_id, point_name, register_id, register_name):
            widget.value = ""
        refresh()

    def on_toggle(enabled: bool) -> None:
        if not choose.value:
            return
        try:
            with access.transaction(user, act=True) as conn:
                device = uuid.UUID(choose.value)
                if queries.device_point(conn, device, user.reach) is None:
                    raise access.NotAllowed()
                dev = devices.set_enabled(conn, device, enabled)
        except SalesControlError as exc:
            show(safe.html(S.ERROR, error=exc), "danger")
            return
        state = S.ENABLED if dev.is_enabled else S.DISABLED
        show(safe.html(S.DEVICE_SAVED, device_id=dev.device_id, state=state), "info")
        refresh()

    register.on_click(on_register)
    enable.on_click(lambda _: on_toggle(True))
    disable.on_click(lambda _: on_toggle(False))
    refresh()
    controls: list[Any] = []
    if user.can_act:
        controls.append(pn.Row(choose, enable, disable))
    if user.is_owner:
        controls += [
            f"### {S.NEW_DEVICE}",
            pn.Row(device_id, point_id, register_id),
            pn.Row(point_name, register_name, register),
        ]
    return layout(S.DEVICES, notice, listing, *controls, speakers.sellers_section(user))
