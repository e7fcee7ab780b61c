-- A closed stretch with nobody at the microphone (a radio or TV heard alone) is kept as
-- a 'background' span: not a dialogue, never transcribed, counted on the pipeline page.
ALTER TABLE assembly_spans DROP CONSTRAINT IF EXISTS assembly_spans_kind_check;
ALTER TABLE assembly_spans ADD CONSTRAINT assembly_spans_kind_check
    CHECK (kind IN ('dialogue', 'blip', 'background'));
