"""Settings: one table, clear errors, the README mirrors it."""

from __future__ import annotations

from pathlib import Path

import pytest

from salescontrol import config
from salescontrol.errors import ConfigError

README = Path(__file__).resolve().parent.parent / "README.md"


def test_defaults_and_environment_override() -> None:
    settings = config.load({"UPLOAD_URL_TTL_SEC": "120", "AUDIO_BUCKET": "b1"})
    assert settings.upload_url_ttl_sec == 120
    assert settings.audio_bucket == "b1"
    assert config.load({}).upload_url_ttl_sec == 600


def test_invalid_value_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="UPLOAD_URL_TTL_SEC='soon' is not a valid int"):
        config.load({"UPLOAD_URL_TTL_SEC": "soon"})


def test_missing_required_setting_names_it_and_how_to_set_it() -> None:
    with pytest.raises(ConfigError, match=r"DATABASE_URL is not set: e\.g\. postgresql"):
        config.load({}).require("database_url")


def test_readme_configuration_table_lists_every_setting() -> None:
    readme = README.read_text(encoding="utf-8")
    for name, _, _ in config.describe():
        assert f"| `{name}` |" in readme, f"{name} is missing from the README table"
