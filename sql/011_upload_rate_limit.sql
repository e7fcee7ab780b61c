-- Token buckets of the per-device rate limit on upload-URL requests (issue 11).
-- In the database, not in memory: every function instance must see the same bucket.
CREATE TABLE IF NOT EXISTS upload_rate_buckets (
    device_id   uuid PRIMARY KEY REFERENCES devices (device_id) ON DELETE CASCADE,
    tokens      double precision NOT NULL,
    updated_at  timestamptz NOT NULL
);
