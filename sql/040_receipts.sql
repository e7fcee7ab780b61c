-- Receipts (issue 21): the fiscal receipts (54-ФЗ) a register's ККТ prints, each linked
-- to the dialogue it closed, and the analysis's offers checked against what was bought.
-- Owned by salescontrol/receipts.py.

-- The ККТ registration number of a register (set through the device admin API).
ALTER TABLE registers ADD COLUMN IF NOT EXISTS kkt_reg_id text UNIQUE;

-- One integration token per point for POST /api/v1/receipts (SHA-256, never the token).
CREATE TABLE IF NOT EXISTS receipt_tokens (
    point_id    uuid PRIMARY KEY REFERENCES points (point_id),
    token_hash  text NOT NULL UNIQUE,
    rotated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS receipts (
    receipt_id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    point_id               uuid NOT NULL REFERENCES points (point_id),  -- whose token sent it
    kkt_reg_id             text NOT NULL,
    fiscal_document_number bigint NOT NULL,
    -- The register whose ККТ printed it; NULL: an unknown ККТ (shown as unassigned).
    register_id            uuid REFERENCES registers (register_id),
    printed_at             timestamptz NOT NULL,
    total_sum              bigint NOT NULL,                -- kopecks
    items                  jsonb NOT NULL,                 -- [{name, price, quantity, sum}]
    item_lemmas            jsonb NOT NULL,                 -- per item: lemmas of its name
    operator               text,                           -- the cashier, as printed
    -- The dialogue it closed (one to one); kept by receipts.rematch, never by hand.
    dialogue_id            uuid UNIQUE REFERENCES dialogues (dialogue_id) ON DELETE SET NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    -- Idempotency key; per point, so one point's token can neither see nor block
    -- another point's receipts.
    CONSTRAINT receipts_key UNIQUE (point_id, kkt_reg_id, fiscal_document_number)
);
CREATE INDEX IF NOT EXISTS receipts_register_time ON receipts (register_id, printed_at);
CREATE INDEX IF NOT EXISTS receipts_kkt_unassigned ON receipts (kkt_reg_id)
    WHERE register_id IS NULL;
CREATE INDEX IF NOT EXISTS receipts_unlinked ON receipts (printed_at)
    WHERE dialogue_id IS NULL AND register_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS dialogues_register_end ON dialogues (register_id, end_ms);

-- The receipt check, kept with the analysis: per offer {product, status, line, name,
-- amount, by} (confirmed / not_bought / no_receipt); contradiction: an offer the analysis
-- calls accepted is not on the receipt. check_terms: the lemmas the check uses,
-- {"offers": [{lemmas, more}], "said": [lemmas of the transcript]}.
ALTER TABLE dialogue_upsell_analysis
    ADD COLUMN IF NOT EXISTS check_terms jsonb,
    ADD COLUMN IF NOT EXISTS receipt_check jsonb,
    ADD COLUMN IF NOT EXISTS receipt_contradiction boolean;
