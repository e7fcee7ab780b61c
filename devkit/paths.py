"""Where things are in a checkout: the one place the dev kit spells these paths."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO_ROOT / "functions"
DEMO_DIR = REPO_ROOT / "demo"
DEMO_AUDIO = DEMO_DIR / "shop_morning.ogg"
DEMO_TRUTH = DEMO_DIR / "shop_morning.truth.json"
