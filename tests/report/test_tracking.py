"""``[tracking]``: what it puts in SendGrid's request, and what a bad value says."""

from __future__ import annotations

import pytest

from digest.deliver.providers.sendgrid_payload import build_payload
from digest.errors import ConfigError
from digest.settings import load_publication_config

from fakes.batches import make_batch


def config_with(tmp_path, bundled, tracking: str):
    path = tmp_path / "digest.toml"
    path.write_text(bundled.read_text() + "\n[tracking]\n" + tracking)
    return load_publication_config(path)


def test_tracking_settings_follow_the_config(make_settings, tmp_path):
    settings = make_settings()
    batch = make_batch(settings)
    assert "tracking_settings" not in build_payload(batch, settings.config)  # the account's own settings

    config = config_with(tmp_path, settings.config_path, 'open = false\nclick = true\nutm = true\nutm_campaign = "am"\n')
    assert build_payload(batch, config)["tracking_settings"] == {
        "click_tracking": {"enable": True, "enable_text": True},
        "open_tracking": {"enable": False},
    }  # utm: no "ganalytics", digest puts the parameters in the links itself (test_utm_links)


def test_a_bad_tracking_value_names_the_key(make_settings, tmp_path):
    settings = make_settings()
    with pytest.raises(ConfigError, match="tracking.open"):
        config_with(tmp_path, settings.config_path, 'open = "sometimes"\n')
