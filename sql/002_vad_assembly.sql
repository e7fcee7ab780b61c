-- Dialogue assembly state (issue 4). Speech segments stay in speech_segments; a span of
-- a device's timeline that assembly has closed is recorded here once, as a dialogue
-- (also a row in dialogues) or a dropped blip, so replays never close it again.

CREATE TABLE IF NOT EXISTS assembly_spans (
    device_id  uuid NOT NULL REFERENCES devices (device_id),
    start_ms   bigint NOT NULL,
    end_ms     bigint NOT NULL CHECK (end_ms > start_ms),
    speech_ms  bigint NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('dialogue', 'blip')),
    -- 'evidence': the silence around it was covered by processed chunks;
    -- 'sweeper': the device went quiet and the sweeper closed it.
    closed_by  text NOT NULL CHECK (closed_by IN ('evidence', 'sweeper')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, start_ms)
);

-- Per device: how much speech was dropped as blips (monitoring).
CREATE OR REPLACE VIEW assembly_blips AS
SELECT device_id, count(*) AS dropped_blips, sum(speech_ms) / 1000.0 AS dropped_speech_sec
FROM assembly_spans
WHERE kind = 'blip'
GROUP BY device_id;

-- Segments already inside closed spans, so assembly reads only the open ones (the
-- partial index keeps that cheap however long a device's history grows).
ALTER TABLE speech_segments ADD COLUMN IF NOT EXISTS closed boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS speech_segments_open ON speech_segments (device_id, start_ms)
    WHERE NOT closed;
