"""Settings: environment values are typed and checked, and every setting is documented."""

from __future__ import annotations

import pytest

from tests.helpers import ROOT
from vellum.site.config import SETTINGS, load_config


def test_environment_then_overrides():
    config = load_config({"PORT": 6000}, environ={"VELLUM_PORT": "7000", "VELLUM_WORKERS": "3"})
    assert config["PORT"] == 6000 and config["WORKERS"] == 3 and config["HOST"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"VELLUM_PORT": "eighty"}, "VELLUM_PORT"),
        ({"VELLUM_SYNC_ON_START": "maybe"}, "VELLUM_SYNC_ON_START"),
        ({"VELLUM_TEXT_INDEX": "later"}, "VELLUM_TEXT_INDEX"),
        ({"VELLUM_STREAMS_PER_CALLER": "-1"}, "VELLUM_STREAMS_PER_CALLER"),
    ],
)
def test_bad_environment_fails_loudly(environ, message):
    with pytest.raises(ValueError, match=message):
        load_config(environ=environ)


def test_unknown_override_is_refused():
    with pytest.raises(KeyError):
        load_config({"NOPE": 1})


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for setting in SETTINGS:
        assert f"`{setting.env_var}`" in readme, setting.env_var


def test_short_secret_key_is_refused():
    with pytest.raises(ValueError, match="VELLUM_SECRET_KEY: must be at least 32"):
        load_config(environ={"VELLUM_SECRET_KEY": "short"})
    assert load_config(environ={"VELLUM_SECRET_KEY": "k" * 32})["SECRET_KEY"] == "k" * 32
