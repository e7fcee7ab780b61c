"""Generated shop data for demos and the dashboard benchmark, inserted by SQL alone.

`python -m devkit.dashboard_data N` fills DATABASE_URL with N dialogues spread over the last
30 days across 5 points x 3 registers, each with a transcript and an analysis, seven in ten
with a receipt, and N audio chunks (a few rejected or stuck).
"""

from __future__ import annotations

import sys
import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol import db, devices

POINTS = 5
REGISTERS_PER_POINT = 3
PRODUCTS = ["пакет", "гарантия", "чехол", "батарейки", "зарядка", "карта лояльности"]
PHRASES = [
    "Здравствуйте, подскажите, где у вас наушники?",
    "Возьмите ещё чехол, он сейчас со скидкой.",
    "Нет, спасибо, чехол не нужен.",
    "Пакет нужен? Да, давайте пакет.",
    "Хотите оформить карту лояльности? Будут баллы.",
    "Оплата картой, пожалуйста.",
    "Может быть, батарейки к пульту?",
    "Спасибо за покупку, хорошего дня!",
]


def create_devices(conn: Connection) -> list[uuid.UUID]:
    """Register POINTS x REGISTERS_PER_POINT devices (tokens are thrown away)."""
    ids = []
    for p in range(POINTS):
        point_id = uuid.uuid4()
        for r in range(REGISTERS_PER_POINT):
            dev, _ = devices.register(
                conn,
                uuid.uuid4(),
                point_id,
                uuid.uuid4(),
                point_name=f"Магазин №{p + 1}",
                register_name=f"Касса {r + 1}",
            )
            ids.append(dev.device_id)
    return ids


_DIALOGUES = """
INSERT INTO dialogues (dialogue_id, device_id, point_id, register_id, start_ms, end_ms,
                       started_at, ended_at, speech_sec, audio_object, asr_status,
                       analysis_status)
SELECT id, dv.device_id, dv.point_id, dv.register_id, s, s + len, to_timestamp(s / 1000.0),
       to_timestamp((s + len) / 1000.0), len / 1000.0 * 0.7,
       'dialogues/' || dv.device_id || '/' || id || '.ogg', 'DONE', 'DONE'
FROM (
    SELECT gen_random_uuid() AS id, i,
           (extract(epoch FROM now()) * 1000)::bigint - (random() * :days * 86400000)::bigint
               AS s,
           (20000 + random() * 100000)::bigint AS len
    FROM generate_series(1, :n) AS i
) g
JOIN (SELECT device_id, point_id, register_id,
             row_number() OVER (ORDER BY device_id) - 1 AS k FROM devices) dv
  ON dv.k = mod(g.i, :devices)
"""

_TRANSCRIPTS = """
INSERT INTO dialogue_transcripts (dialogue_id, text, segments, language, model, tier)
SELECT dialogue_id, a || ' ' || b,
       jsonb_build_array(jsonb_build_object('start', 0.0, 'end', 4.0, 'text', a),
                         jsonb_build_object('start', 5.0, 'end', 9.0, 'text', b)),
       'ru', 'base', 'fast'
FROM (
    SELECT dialogue_id,
           (CAST(:phrases AS text[]))[1 + floor(random() * :np)::int] AS a,
           (CAST(:phrases AS text[]))[1 + floor(random() * :np)::int] AS b
    FROM dialogues WHERE dialogue_id NOT IN (SELECT dialogue_id FROM dialogue_transcripts)
) t
"""

_ANALYSES = """
INSERT INTO dialogue_upsell_analysis (dialogue_id, is_sales_dialogue, attempted, accepted,
                                      quality_score, offers, summary, recommendation,
                                      analyzer, model, prompt_version)
SELECT dialogue_id, true, attempted, attempted AND accepted,
       CASE WHEN attempted THEN 3 + floor(random() * 8)::int ELSE floor(random() * 3)::int END,
       CASE WHEN attempted THEN jsonb_build_array(jsonb_build_object(
           'product', product, 'quote', 'Может, ещё ' || product || '?',
           'accepted', accepted)) ELSE '[]'::jsonb END,
       CASE WHEN attempted THEN 'Продавец предложил: ' || product
            ELSE 'Допродажи не было' END,
       'Предлагать сопутствующий товар в конце покупки.', 'rules', NULL, 'v1'
FROM (
    SELECT dialogue_id, random() < 0.6 AS attempted, random() < 0.4 AS accepted,
           (CAST(:products AS text[]))[1 + floor(random() * :nprod)::int] AS product
    FROM dialogues
    WHERE dialogue_id NOT IN (SELECT dialogue_id FROM dialogue_upsell_analysis)
) x
"""


_CHUNKS = """
INSERT INTO audio_chunks (chunk_id, device_id, started_at, duration_sec, size_bytes, sha256,
                          codec, sample_rate, object_name, status, error, updated_at)
SELECT id, dv.device_id, t, 60, 120000, md5(id::text), 'opus', 16000,
       'chunks/' || dv.device_id || '/' || id || '.ogg',
       CASE WHEN r < 0.005 THEN 'REJECTED' WHEN r < 0.006 THEN 'PROCESSING' ELSE 'DONE' END,
       CASE WHEN r < 0.005 THEN 'opus decode failed: not an Ogg stream' END, t
FROM (
    SELECT gen_random_uuid() AS id, i, random() AS r,
           now() - random() * make_interval(days => :days) AS t
    FROM generate_series(1, :n) AS i
) g
JOIN (SELECT device_id, row_number() OVER (ORDER BY device_id) - 1 AS k FROM devices) dv
  ON dv.k = mod(g.i, :devices)
"""

# A receipt for seven dialogues in ten, printed 2 s after the dialogue, each from one of
# three cashiers; the upsell check of each attempt: confirmed when accepted.
_RECEIPTS = """
INSERT INTO receipts (point_id, kkt_reg_id, fiscal_document_number, register_id, printed_at,
                      total_sum, items, item_lemmas, operator, dialogue_id)
SELECT d.point_id, lpad(r.k::text, 16, '0'), row_number() OVER (), d.register_id,
       d.ended_at + interval '2 seconds', total,
       jsonb_build_array(jsonb_build_object('name', 'Товар', 'price', total, 'quantity', 1,
                                            'sum', total)),
       '[["товар"]]'::jsonb, (CAST(:cashiers AS text[]))[1 + floor(random() * 3)::int],
       d.dialogue_id
FROM (SELECT *, (10000 + floor(random() * 190000))::bigint AS total FROM dialogues) d
JOIN (SELECT register_id, row_number() OVER (ORDER BY register_id) AS k FROM registers) r
  USING (register_id)
WHERE random() < 0.7
  AND d.dialogue_id NOT IN (SELECT dialogue_id FROM receipts WHERE dialogue_id IS NOT NULL)
"""
_CHECKS = """
UPDATE dialogue_upsell_analysis a
SET receipt_check = jsonb_build_array(CASE WHEN a.accepted
        THEN jsonb_build_object('product', a.offers -> 0 ->> 'product', 'status', 'confirmed',
                                'line', 0, 'amount', 10000)
        ELSE jsonb_build_object('product', a.offers -> 0 ->> 'product', 'status', 'not_bought')
    END)
FROM receipts r WHERE r.dialogue_id = a.dialogue_id AND a.attempted AND a.receipt_check IS NULL
"""
CASHIERS = ["Анна", "Борис", "Вера"]


def generate(conn: Connection, n: int, days: int = 30) -> None:
    """Insert n dialogues (with transcripts, analyses and most with a receipt) over the
    last `days` days."""
    count = conn.execute(sa.text("SELECT count(*) FROM devices")).scalar_one()
    if count == 0:
        count = len(create_devices(conn))
    conn.execute(sa.text(_DIALOGUES), {"n": n, "days": days, "devices": count})
    conn.execute(sa.text(_CHUNKS), {"n": n, "days": days, "devices": count})
    conn.execute(sa.text(_TRANSCRIPTS), {"phrases": PHRASES, "np": len(PHRASES)})
    conn.execute(sa.text(_ANALYSES), {"products": PRODUCTS, "nprod": len(PRODUCTS)})
    conn.execute(sa.text(_RECEIPTS), {"cashiers": CASHIERS})
    conn.execute(sa.text(_CHECKS))
    conn.execute(sa.text("ANALYZE"))


if __name__ == "__main__":
    with db.transaction() as connection:
        generate(connection, int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
