-- Dashboard: indexes for its filters, sorts and transcript search.
-- pg_trgm ships with PostgreSQL's contrib (Debian postgresql-15, Cloud SQL): a trigram
-- GIN index makes `text ILIKE '%word%'` an index scan instead of a scan of every transcript.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX IF NOT EXISTS dialogue_transcripts_text_trgm
    ON dialogue_transcripts USING gin (text gin_trgm_ops);

-- Period filters per point and per register, newest first.
CREATE INDEX IF NOT EXISTS dialogues_point_time ON dialogues (point_id, started_at);
CREATE INDEX IF NOT EXISTS dialogues_register_time ON dialogues (register_id, started_at);

-- Stuck work: items in a given status ordered by when they last moved.
CREATE INDEX IF NOT EXISTS dialogues_asr_status_updated ON dialogues (asr_status, updated_at);
CREATE INDEX IF NOT EXISTS dialogues_analysis_status_updated
    ON dialogues (analysis_status, updated_at);

-- Quality filter and sort.
CREATE INDEX IF NOT EXISTS dialogue_upsell_analysis_quality
    ON dialogue_upsell_analysis (quality_score);
