-- The dashboard's own users (issue 18): who may log in, in which role, for which points;
-- server-side sessions that logout and password changes revoke; login throttling shared
-- by every dashboard instance. Written and read by dashboard/ only.

CREATE TABLE IF NOT EXISTS dashboard_users (
    user_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL CHECK (name <> ''),
    -- owner: every point and every action; manager: the points of dashboard_user_points,
    -- actions included; viewer: the points of dashboard_user_points, read-only.
    role           text NOT NULL CHECK (role IN ('owner', 'manager', 'viewer')),
    password_hash  text NOT NULL,                    -- argon2id, never the password
    is_enabled     boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);
-- Names are unique whatever their case: "Anna" and "anna" are one user.
CREATE UNIQUE INDEX IF NOT EXISTS dashboard_users_name ON dashboard_users (lower(name));

CREATE TABLE IF NOT EXISTS dashboard_user_points (
    user_id   bigint NOT NULL REFERENCES dashboard_users (user_id) ON DELETE CASCADE,
    point_id  uuid NOT NULL REFERENCES points (point_id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, point_id)
);

CREATE TABLE IF NOT EXISTS dashboard_sessions (
    session_id  uuid PRIMARY KEY,                    -- the public reference pages carry
    token_hash  bytea NOT NULL UNIQUE,               -- SHA-256 of the cookie's secret
    user_id     bigint NOT NULL REFERENCES dashboard_users (user_id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,                         -- logout, password change, disable
    address     text,
    user_agent  text
);
CREATE INDEX IF NOT EXISTS dashboard_sessions_user ON dashboard_sessions (user_id);
CREATE INDEX IF NOT EXISTS dashboard_sessions_expires ON dashboard_sessions (expires_at);

-- Login attempts per key ('user:<name>' or 'address:<ip>') in the current window.
-- In the database, not in memory: every Cloud Run instance must count the same attempts.
CREATE TABLE IF NOT EXISTS dashboard_login_throttle (
    key           text PRIMARY KEY,
    attempts      integer NOT NULL,
    window_start  timestamptz NOT NULL,
    locked_until  timestamptz
);
CREATE INDEX IF NOT EXISTS dashboard_login_throttle_window
    ON dashboard_login_throttle (window_start);
