"""SalesControl's dev kit: everything that exists to develop, test, demo, evaluate or
load-test the product, kept beside the production core (`salescontrol/`), never in it.

- `commands`: the dev commands of `python -m salescontrol` (local, dashboard, transcribe,
  demo, eval, soak), loaded by `salescontrol.cli` when this package is present.
- `local/`: the local cloud stack (Postgres, Pub/Sub emulator, fake-gcs-server, functions).
- `pipeline_run`, `demo`, `evaluation`: a recording through the whole pipeline, scored.
- `synth`, `scene`: Russian test speech and shop scenes with their ground truth.
- `soak/`: load, fault and bad-input runs with invariant checks.
- `dashboard_data`, `headless`: generated dashboard data; headless Chromium for browser work.
- `paths`: where things are in a checkout.

The core never imports this package; this package may import anything.
"""
