-- SalesControl schema. Applied by `python -m salescontrol migrate` (or `psql -f`, in
-- filename order). Table and column names follow the original deployment guide, whose
-- monitoring queries (sections 7-9) must keep running unchanged.

CREATE TABLE IF NOT EXISTS points (
    point_id    uuid PRIMARY KEY,
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS registers (
    register_id uuid PRIMARY KEY,
    point_id    uuid NOT NULL REFERENCES points (point_id),
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS devices (
    device_id        uuid PRIMARY KEY,
    point_id         uuid NOT NULL REFERENCES points (point_id),
    register_id      uuid NOT NULL REFERENCES registers (register_id),
    -- SHA-256 of the device token; the token itself is never stored.
    token_hash       text NOT NULL UNIQUE,
    is_enabled       boolean NOT NULL DEFAULT true,
    token_rotated_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz,
    last_health      jsonb,
    last_health_at   timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS audio_chunks (
    chunk_id          uuid PRIMARY KEY,               -- made by the device
    device_id         uuid NOT NULL REFERENCES devices (device_id),
    started_at        timestamptz NOT NULL,           -- UTC time of the first sample
    duration_sec      double precision NOT NULL,
    size_bytes        bigint NOT NULL,
    sha256            text NOT NULL,
    codec             text NOT NULL,
    sample_rate       integer NOT NULL,
    object_name       text NOT NULL UNIQUE,
    status            text NOT NULL DEFAULT 'AWAITING_UPLOAD'
        CHECK (status IN ('AWAITING_UPLOAD', 'UPLOADED', 'PROCESSING', 'DONE', 'REJECTED')),
    error             text,
    object_generation bigint,                         -- the generation that was processed
    attempts          integer NOT NULL DEFAULT 0,
    uploaded_at       timestamptz,
    processed_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS audio_chunks_device_time ON audio_chunks (device_id, started_at);
CREATE INDEX IF NOT EXISTS audio_chunks_status ON audio_chunks (status, updated_at);

-- Objects that arrived in chunks/ without a matching announcement, kept for inspection.
CREATE TABLE IF NOT EXISTS orphan_objects (
    bucket       text NOT NULL,
    object_name  text NOT NULL,
    generation   bigint NOT NULL,
    size_bytes   bigint,
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bucket, object_name, generation)
);

-- Speech found by VAD, on the device's absolute timeline (epoch milliseconds).
CREATE TABLE IF NOT EXISTS speech_segments (
    chunk_id   uuid NOT NULL REFERENCES audio_chunks (chunk_id) ON DELETE CASCADE,
    seq        integer NOT NULL,
    device_id  uuid NOT NULL REFERENCES devices (device_id),
    start_ms   bigint NOT NULL,
    end_ms     bigint NOT NULL CHECK (end_ms > start_ms),
    PRIMARY KEY (chunk_id, seq)
);
CREATE INDEX IF NOT EXISTS speech_segments_device_time ON speech_segments (device_id, start_ms);

CREATE TABLE IF NOT EXISTS dialogues (
    dialogue_id     uuid PRIMARY KEY,                 -- uuid5(device_id, start_ms)
    device_id       uuid NOT NULL REFERENCES devices (device_id),
    point_id        uuid NOT NULL REFERENCES points (point_id),
    register_id     uuid NOT NULL REFERENCES registers (register_id),
    start_ms        bigint NOT NULL,
    end_ms          bigint NOT NULL CHECK (end_ms > start_ms),
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz NOT NULL,
    speech_sec      double precision NOT NULL,
    audio_object    text,
    asr_status      text NOT NULL DEFAULT 'PENDING'
        CHECK (asr_status IN ('PENDING', 'QUEUED', 'PROCESSING', 'DONE', 'FAILED')),
    asr_error       text,
    analysis_status text NOT NULL DEFAULT 'PENDING'
        CHECK (analysis_status IN ('PENDING', 'PROCESSING', 'DONE', 'FAILED', 'SKIPPED')),
    analysis_error  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS dialogues_device_time ON dialogues (device_id, start_ms);
CREATE INDEX IF NOT EXISTS dialogues_started_at ON dialogues (started_at);
CREATE INDEX IF NOT EXISTS dialogues_created_at ON dialogues (created_at);
CREATE INDEX IF NOT EXISTS dialogues_status ON dialogues (asr_status, analysis_status);

CREATE TABLE IF NOT EXISTS dialogue_transcripts (
    dialogue_id    uuid PRIMARY KEY REFERENCES dialogues (dialogue_id) ON DELETE CASCADE,
    text           text NOT NULL,
    segments       jsonb NOT NULL DEFAULT '[]'::jsonb,  -- [{start, end, text, words?}]
    language       text,
    model          text,
    tier           text,
    avg_logprob    double precision,
    audio_sec      double precision,
    processing_sec double precision,
    options        jsonb,                               -- decoding options used
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS dialogue_upsell_analysis (
    dialogue_id       uuid PRIMARY KEY REFERENCES dialogues (dialogue_id) ON DELETE CASCADE,
    is_sales_dialogue boolean,
    attempted         boolean NOT NULL,
    accepted          boolean,
    quality_score     smallint CHECK (quality_score BETWEEN 0 AND 10),
    offers            jsonb NOT NULL DEFAULT '[]'::jsonb,  -- [{product, quote, accepted}]
    summary           text,
    recommendation    text,
    result            jsonb,                               -- the analyzer's whole answer
    analyzer          text NOT NULL,                       -- 'llm' | 'rules'
    model             text,
    prompt_version    text,
    prompt_tokens     integer,
    completion_tokens integer,
    cost_usd          numeric(12, 6),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
