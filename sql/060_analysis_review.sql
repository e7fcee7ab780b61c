-- Issue 23: a verdict a person should check ("на проверку"), e.g. the LLM and the rules
-- analyzer disagree on whether the seller tried to upsell.
ALTER TABLE dialogue_upsell_analysis
    ADD COLUMN IF NOT EXISTS needs_review boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS review_reason text;

CREATE INDEX IF NOT EXISTS dialogue_upsell_analysis_review
    ON dialogue_upsell_analysis (dialogue_id) WHERE needs_review;
