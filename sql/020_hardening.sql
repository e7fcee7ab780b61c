-- Hardening (issue 18): attempt caps, the device's hash verdict, erasure and its log,
-- and a rate limit of heartbeats.

-- Attempts of the ASR and analysis stages (audio_chunks.attempts counts vad's). A stage
-- gives up on a row after MAX_ATTEMPTS failed attempts: REJECTED / FAILED with the last
-- error (salescontrol/backlog.py).
ALTER TABLE dialogues ADD COLUMN IF NOT EXISTS asr_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE dialogues ADD COLUMN IF NOT EXISTS analysis_attempts integer NOT NULL DEFAULT 0;

-- vad's verdict on the uploaded bytes: true = size and sha256 match the announcement,
-- false = they do not (corrupted in transit: the device sends the chunk again), NULL =
-- not checked yet. The device keeps its copy until the verdict is in.
ALTER TABLE audio_chunks ADD COLUMN IF NOT EXISTS verified boolean;
-- Set when the chunk's audio was erased; the row stays as a tombstone so that a device
-- announcing the chunk again is told the server is done with it.
ALTER TABLE audio_chunks ADD COLUMN IF NOT EXISTS erased_at timestamptz;
CREATE INDEX IF NOT EXISTS audio_chunks_not_erased ON audio_chunks (started_at)
    WHERE erased_at IS NULL;

-- Every erasure: what was asked (a dialogue, a device's time range, everything before a
-- date, or the sweeper's transcript retention), by whom, when, and what it removed.
-- An unfinished one (crash) is resumed by the next run or the sweeper.
CREATE TABLE IF NOT EXISTS erasures (
    erasure_id   uuid PRIMARY KEY,
    scope        text NOT NULL CHECK (scope IN ('dialogue', 'device', 'before', 'retention')),
    dialogue_id  uuid,
    device_id    uuid,
    from_at      timestamptz,
    to_at        timestamptz,
    requested_by text NOT NULL,
    reason       text,
    status       text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DONE')),
    counts       jsonb NOT NULL DEFAULT '{}'::jsonb,
    requested_at timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS erasures_pending ON erasures (requested_at) WHERE status = 'PENDING';

-- Token buckets of the per-device heartbeat rate limit (like upload_rate_buckets).
CREATE TABLE IF NOT EXISTS heartbeat_rate_buckets (
    device_id   uuid PRIMARY KEY REFERENCES devices (device_id) ON DELETE CASCADE,
    tokens      double precision NOT NULL,
    updated_at  timestamptz NOT NULL
);
