-- The daily digest (issue 22): who gets yesterday's figures where, and what was sent.
-- Written by `python -m dashboard users digest` (recipients) and functions/digest
-- (deliveries); read by functions/digest.

-- A dashboard user's channels: an e-mail address, a Telegram chat, or both. The digest
-- covers the points the user may see (an owner every point, others their own).
CREATE TABLE IF NOT EXISTS digest_recipients (
    user_id           bigint PRIMARY KEY REFERENCES dashboard_users (user_id) ON DELETE CASCADE,
    email             text CHECK (email IS NULL OR email ~ '^[^@\s]+@[^@\s]+$'),
    telegram_chat_id  text CHECK (telegram_chat_id IS NULL OR telegram_chat_id ~ '^-?[0-9]{1,20}$|^@[A-Za-z0-9_]{5,32}$'),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (email IS NOT NULL OR telegram_chat_id IS NOT NULL)
);

-- One row per recipient, local day and channel: the idempotency key of the digest. A
-- tick claims the row (SENDING) in its own transaction before it sends, and marks it SENT
-- or FAILED after; a repeated or concurrent tick finds it claimed or sent and sends
-- nothing. FAILED is tried again by later ticks, up to DIGEST_MAX_ATTEMPTS; a SENDING
-- left by a tick that died is taken over after DIGEST_CLAIM_TIMEOUT_SEC.
CREATE TABLE IF NOT EXISTS digest_deliveries (
    user_id     bigint NOT NULL REFERENCES dashboard_users (user_id) ON DELETE CASCADE,
    day         date NOT NULL,
    channel     text NOT NULL CHECK (channel IN ('email', 'telegram')),
    address     text NOT NULL,                  -- where it went: the address or chat id
    status      text NOT NULL CHECK (status IN ('SENDING', 'SENT', 'FAILED')),
    attempts    integer NOT NULL DEFAULT 1,
    error       text,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    PRIMARY KEY (user_id, day, channel)
);
CREATE INDEX IF NOT EXISTS digest_deliveries_day ON digest_deliveries (day, status);
