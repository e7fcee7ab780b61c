"""Downloads of the dashboard's tables (CSV and Excel) against a real Postgres and a
served dashboard: Russian headers, the page's filters and numbers, the user's reach."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import requests
import sqlalchemy as sa
from dashboard_data import add_device, add_dialogue, add_user, password_of, served_dashboard

from dashboard import export, queries
from dashboard import strings as S
from dashboard.pages import tables
from dashboard.users import Role, User
from salescontrol import db

MSK = "Europe/Moscow"
DAY = date(2026, 11, 20)
OWNER = User(0, "anna", Role.OWNER, frozenset())


def _at(hour: int, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=3)


@pytest.fixture
def shop(migrated_db: sa.Engine, monkeypatch: pytest.MonkeyPatch, fresh_db: str) -> Iterator[dict]:
    """Point A with three analysed dialogues on DAY (one of them on DAY + 1), point B with one."""
    monkeypatch.setenv("DATABASE_URL", fresh_db)  # what the pages' transactions read
    monkeypatch.setenv("DASHBOARD_TIMEZONE", MSK)
    db.dispose_engines()
    with migrated_db.begin() as conn:
        a = add_device(conn, "Пекарня «А»; центр", "Касса 1")
        b = add_device(conn, "Пекарня Б", "Касса 1")
        said = [{"start": 0.0, "end": 3.0, "text": "Круассан к кофе?"}]
        offer = [{"product": "круассан", "quote": "Круассан к кофе?", "accepted": True}]
        add_dialogue(
            conn,
            a,
            _at(9),
            segments=said,
            analysis={"attempted": True, "accepted": True, "quality_score": 9, "offers": offer},
        )
        add_dialogue(
            conn, a, _at(10), segments=said, analysis={"attempted": False, "quality_score": 2}
        )
        add_dialogue(
            conn,
            a,
            _at(11),
            segments=said,
            analysis={
                "attempted": True,
                "accepted": False,
                "quality_score": 6,
                "summary": "Сводка",
            },
        )
        add_dialogue(
            conn, a, _at(9, DAY + timedelta(days=1)), segments=said, analysis={"attempted": False}
        )
        add_dialogue(
            conn, b, _at(12), segments=said, analysis={"attempted": True, "quality_score": 4}
        )
    yield {"engine": migrated_db, "a": a, "b": b, "url": fresh_db}
    db.dispose_engines()


def _scope(reach=queries.EVERY_POINT, days: int = 0, **kw) -> queries.Scope:
    return queries.Scope(reach, DAY, DAY + timedelta(days=days), MSK, **kw)


def _request(table: str, fmt: str, user: User = OWNER, **params: str) -> export.Request:
    args = {
        k: [v.encode()] for k, v in {"from": "2026-11-20", "to": "2026-11-20", **params}.items()
    }
    return export.parse(f"{table}.{fmt}", args, user)


def _csv(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())  # Excel reads UTF-8 only with its BOM
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


def _xlsx(body: bytes) -> dict[str, list[tuple]]:
    """Each sheet's rows (padded to the header: empty cells at a row's end are not stored)."""
    book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    sheets = {}
    for sheet in book:
        rows = [tuple(r) for r in sheet.iter_rows(values_only=True)]
        width = len(rows[0])
        sheets[sheet.title] = [r + (None,) * (width - len(r)) for r in rows]
    return sheets


def test_every_overview_table_downloads_with_russian_headers_and_the_pages_numbers(shop) -> None:
    with shop["engine"].connect() as conn:
        page = tables.overview(conn, _scope(days=1))
    for name in export.OVERVIEW:
        shown = page.tables[name]
        body, file_name = export.build(_request(name, "csv", to="2026-11-21"), OWNER)
        rows = _csv(body)
        assert rows[0] == [S.COLUMNS[c] for c in shown.columns]
        assert len(rows) == len(shown.rows) + 1
        assert file_name == f"{shown.title} 2026-11-20 — 2026-11-21.csv"
        book = _xlsx(export.build(_request(name, "xlsx", to="2026-11-21"), OWNER)[0])
        assert book[S.EXPORT_DATA][0] == tuple(S.COLUMNS[c] for c in shown.columns)
        for shown_row, xlsx_row in zip(shown.rows, book[S.EXPORT_DATA][1:], strict=True):
            assert xlsx_row == tuple(shown_row.get(c) for c in shown.columns)
    daily = _csv(export.build(_request("daily", "csv", to="2026-11-21"), OWNER)[0])
    # 20.11: four dialogues, three attempts of four sales dialogues; mean quality 5,25
    assert daily[1] == ["20.11.2026", "4", "4", "75", "33", "5,2"]
    assert daily[2][:3] == ["21.11.2026", "1", "1"]
    ranking = _xlsx(export.build(_request("ranking", "xlsx"), OWNER)[0])[S.EXPORT_DATA]
    assert ranking[1][:5] == ("Пекарня Б", "Касса 1", 1, 1, 100)  # best attempt rate first
    assert ranking[2][:5] == ("Пекарня «А»; центр", "Касса 1", 3, 3, 67)


def test_dialogues_download_every_row_the_filters_keep_in_the_pages_order(shop) -> None:
    request = _request("dialogues", "csv", attempted="yes", sort="quality", desc="1")
    rows = _csv(export.build(request, OWNER)[0])
    header = rows[0]
    assert header[:3] == [
        S.COLUMNS["started_at"],
        S.COLUMNS["point_name"],
        S.COLUMNS["register_name"],
    ]
    assert [r[header.index(S.COLUMNS["quality_score"])] for r in rows[1:]] == ["9", "6", "4"]
    assert rows[1][0] == "20.11.2026 09:00" and rows[1][1] == "Пекарня «А»; центр"  # ; quoted
    f = queries.DialogueFilter(scope=_scope(), attempted=True, sort="quality")
    with shop["engine"].connect() as conn:
        page, total = queries.dialogues(conn, f)
    assert total == 3 and [r[-1] for r in rows[1:]] == [str(r["dialogue_id"]) for r in page]
    request = _request("dialogues", "xlsx", attempted="yes", sort="quality", desc="1")
    book = _xlsx(export.build(request, OWNER)[0])
    assert [r[header.index(S.COLUMNS["quality_score"])] for r in book[S.EXPORT_DATA][1:]] == [
        9,
        6,
        4,
    ]
    filters = dict(book[S.EXPORT_FILTERS][1:])
    assert filters[S.EXPORT_DATA] == S.NAV_DIALOGUES
    assert filters[S.EXPORT_PERIOD] == "20.11.2026 — 20.11.2026"
    assert filters[S.ATTEMPTED] == S.YES and filters[S.EXPORT_USER] == "anna"
    assert filters[S.SORT].startswith(S.SORTS["quality"])


def test_a_download_holds_at_most_the_configured_rows_and_says_so(
    shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHBOARD_EXPORT_MAX_ROWS", "2")
    from salescontrol import config

    config.settings.cache_clear()
    rows = _csv(export.build(_request("dialogues", "csv"), OWNER)[0])
    assert len(rows) == 1 + 2 + 1
    assert rows[-1] == [S.EXPORT_CUT.format(shown=2, total=4)]


def test_a_manager_downloads_their_points_only(shop) -> None:
    manager = User(0, "boris", Role.MANAGER, frozenset({shop["a"].point_id}))
    for name in ("ranking", "receipts", "dialogues"):
        body = export.build(_request(name, "csv", user=manager), manager)[0].decode("utf-8-sig")
        assert "Пекарня «А»" in body and "Пекарня Б" not in body
    # asking for the other point by its id gives nothing, as on the page
    other = _request("dialogues", "csv", user=manager, point=str(shop["b"].point_id))
    assert len(_csv(export.build(other, manager)[0])) == 1


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("users.csv", {}),
        ("daily.pdf", {}),
        ("daily.csv", {"from": "20.11.2026"}),
        ("daily.csv", {"to": "2026-11-19"}),
        ("daily.csv", {"point": "Пекарня"}),
        ("daily.csv", {"attempted": "yes"}),  # not a filter of that table
        ("dialogues.csv", {"sort": "password_hash"}),
        ("dialogues.csv", {"qmin": "-1"}),
        ("dialogues.csv", {"accepted": "maybe"}),
    ],
)
def test_a_link_the_pages_never_make_is_refused(path: str, params: dict) -> None:
    args = {k: [v.encode()] for k, v in {"from": "2026-11-20", **params}.items()}
    with pytest.raises(export.BadParameter):
        export.parse(path, args, OWNER)


@pytest.fixture
def served(shop, stack_env: dict, tmp_path: Path) -> Iterator[str]:
    with shop["engine"].begin() as conn:
        add_user(conn, "owner", "owner")
        add_user(conn, "viewer", "viewer", [shop["b"].point_id])
    with served_dashboard(shop["url"], stack_env, tmp_path / "dashboard.log") as base:
        yield base


def _logged_in(base: str, name: str) -> requests.Session:
    http = requests.Session()
    http.get(base + "/login", timeout=10)
    data = {"_xsrf": http.cookies["_xsrf"], "username": name, "password": password_of(name)}
    answer = http.post(base + "/login", data=data, timeout=30, allow_redirects=False)
    assert answer.status_code == 302
    return http


def test_the_download_url_needs_a_login_and_answers_a_file(served: str) -> None:
    link = "/export/dialogues.xlsx?from=2026-11-20&to=2026-11-21&attempted=yes"
    with requests.Session() as anonymous:
        answer = anonymous.get(served + link, timeout=30, allow_redirects=False)
    assert answer.status_code == 302 and "/login?next=" in answer.headers["Location"]
    with _logged_in(served, "owner") as owner, _logged_in(served, "viewer") as viewer:
        answer = owner.get(served + link, timeout=60)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == export.FORMATS["xlsx"]
        disposition = answer.headers["Content-Disposition"]
        assert disposition.startswith('attachment; filename="salescontrol-dialogues-2026-11-20-')
        assert "filename*=UTF-8''%D0%94%D0%B8%D0%B0%D0%BB%D0%BE%D0%B3%D0%B8" in disposition
        assert len(_xlsx(answer.content)[S.EXPORT_DATA]) == 1 + 3
        seen = viewer.get(served + link.replace("xlsx", "csv"), timeout=60)
        assert seen.status_code == 200 and len(_csv(seen.content)) == 1 + 1  # point B only
        bad = owner.get(served + "/export/dialogues.csv?from=x", timeout=30)
        assert bad.status_code == 400 and "from/to" in bad.text
        assert owner.get(served + "/export/..%2Fetc.csv", timeout=30).status_code == 404
        unknown_point = f"/export/daily.csv?from=2026-11-20&point={uuid.uuid4()}"
        assert len(_csv(owner.get(served + unknown_point, timeout=30).content)) == 1
