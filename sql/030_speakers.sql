-- Rush hour (issue 20): voices on the timeline, background speech, sellers, roles.

-- About a second of foreground speech each, from the vad stage: the speaker encoder's
-- embedding (256 float32, little-endian) and loudness. Assembly reads them to split a
-- queue where the customer changes, and to tell the seller from the customer.
CREATE TABLE IF NOT EXISTS speech_windows (
    chunk_id   uuid NOT NULL REFERENCES audio_chunks (chunk_id) ON DELETE CASCADE,
    seq        integer NOT NULL,
    device_id  uuid NOT NULL REFERENCES devices (device_id),
    start_ms   bigint NOT NULL,
    end_ms     bigint NOT NULL CHECK (end_ms > start_ms),
    level_db   real NOT NULL,
    embedding  bytea,                                  -- NULL: too short to embed
    PRIMARY KEY (chunk_id, seq)
);
CREATE INDEX IF NOT EXISTS speech_windows_device_time ON speech_windows (device_id, start_ms);

-- Speech from a loudspeaker (radio, TV, announcements), dropped before assembly and ASR:
-- kept only to be counted (dashboard pipeline page).
CREATE TABLE IF NOT EXISTS background_speech (
    chunk_id   uuid NOT NULL REFERENCES audio_chunks (chunk_id) ON DELETE CASCADE,
    seq        integer NOT NULL,
    device_id  uuid NOT NULL REFERENCES devices (device_id),
    start_ms   bigint NOT NULL,
    end_ms     bigint NOT NULL CHECK (end_ms > start_ms),
    PRIMARY KEY (chunk_id, seq)
);
CREATE INDEX IF NOT EXISTS background_speech_device_time
    ON background_speech (device_id, start_ms);

-- Seller voices of a point, learned from its own audio: a voice that is the seller's side
-- of a dialogue again and again. `number` is given when it has recurred often enough
-- (it is then a seller, "Продавец <number>" until the owner names it); a merged seller
-- points at the one it was merged into.
CREATE TABLE IF NOT EXISTS sellers (
    seller_id    uuid PRIMARY KEY,
    point_id     uuid NOT NULL REFERENCES points (point_id),
    number       integer,
    name         text,
    voice        bytea NOT NULL,                       -- unit centroid, 256 float32
    dialogues    integer NOT NULL DEFAULT 0,
    merged_into  uuid REFERENCES sellers (seller_id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (point_id, number)
);
CREATE INDEX IF NOT EXISTS sellers_point ON sellers (point_id);

-- Who spoke when in a dialogue's audio (seconds from the audio object's start):
-- [{start, end, role: seller|customer, conf}], and the seller voice it was matched to.
ALTER TABLE dialogues ADD COLUMN IF NOT EXISTS turns jsonb;
ALTER TABLE dialogues ADD COLUMN IF NOT EXISTS seller_id uuid
    REFERENCES sellers (seller_id) ON DELETE SET NULL;
CREATE INDEX IF NOT EXISTS dialogues_seller ON dialogues (seller_id, started_at);
