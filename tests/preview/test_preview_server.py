"""The live preview page: controls, rendering, and re-rendering on changes."""

from __future__ import annotations

import shutil
import time

import pytest
from select_seeding import Seeder
from starlette.testclient import TestClient

from digest.paths import email_templates_dir
from digest.preview.server import create_app
from digest.preview.watch import FileFilter, content_fingerprint


def test_page_has_controls_for_topics_subscriber_and_width(seeded):
    with TestClient(create_app(seeded, watch=False)) as client:
        page = client.get("/").text
    assert '<iframe id="frame"' in page
    for topic in seeded.settings.config.topics:
        assert f'value="{topic.slug}"' in page
    assert '<option value="Gold.Bug@example.com">' in page
    assert 'value="375"' in page and 'value="640"' in page


def test_render_shows_html_or_text_and_names_errors(seeded):
    with TestClient(create_app(seeded, watch=False)) as client:
        html = client.get("/render", params={"topics": "gold", "date": "2026-11-27"})
        text = client.get("/render", params={"subscriber": "gold.bug@example.com", "format": "txt", "date": "2026-11-27"})
        bad = client.get("/render", params={"topics": "tin"})
        bad_date = client.get("/render", params={"date": "27/11/2026"})
    assert html.status_code == 200 and "Gold holds its ground" in html.text
    assert "Lithium news of the day" not in html.text
    assert text.headers["content-type"].startswith("text/plain") and "Gold holds its ground" in text.text
    assert bad.status_code == 400 and "tin" in bad.text
    assert bad_date.status_code == 400 and "YYYY-MM-DD" in bad_date.text


def test_content_changes_change_the_fingerprint(seeded):
    before = content_fingerprint(seeded)
    with seeded.session() as session:
        Seeder(session).briefing(title="Fresh")
    assert content_fingerprint(seeded) != before


def test_file_filter_accepts_templates_and_the_config_only(tmp_path):
    templates, config = tmp_path / "templates", tmp_path / "conf" / "digest.toml"
    templates.mkdir()
    config.parent.mkdir()
    config.touch()
    accept = FileFilter([templates], [config])
    assert accept(None, str(templates / "partials" / "footer.mjml.j2"))
    assert accept(None, str(config))
    assert not accept(None, str(config.parent / "other.toml"))
    assert accept.roots == sorted([templates.resolve(), config.parent.resolve()])


def _wait_for_version(client, above: int, deadline: float = 20.0) -> int:
    """A deadline for a change to be noticed, not a timing assertion."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        version = client.get("/version").json()["version"]
        if version > above:
            return version
        time.sleep(0.05)
    pytest.fail(f"no change noticed within {deadline} s")


@pytest.fixture
def editable(runtime, make_settings, tmp_path):
    """A runtime whose config and templates are copies the test may edit."""
    from digest.runtime import Runtime
    from digest.settings import bundled_config_path

    config = tmp_path / "config" / "digest.toml"
    config.parent.mkdir()
    shutil.copy(bundled_config_path(), config)
    templates = tmp_path / "templates"
    shutil.copytree(email_templates_dir(), templates)
    rt = Runtime.open(make_settings(runtime.settings.database_url, DIGEST_CONFIG=str(config)))
    yield rt, config, templates
    rt.close()


def test_template_config_and_content_changes_re_render(editable):
    rt, config, templates = editable
    app = create_app(rt, templates_dir=templates, poll_seconds=0.1)
    with TestClient(app) as client:
        version = client.get("/version").json()["version"]

        body = templates / "body.txt.j2"
        body.write_text("EDITED TEMPLATE\n" + body.read_text())
        version = _wait_for_version(client, version)
        assert "EDITED TEMPLATE" in client.get("/render", params={"format": "txt", "date": "2026-11-27"}).text

        config.write_text(config.read_text().replace('title = "Gold"', 'title = "Gold & Bullion"'))
        version = _wait_for_version(client, version)
        assert "Gold &amp; Bullion" in client.get("/").text

        with rt.session() as session:
            Seeder(session).briefing(title="Breaking copper", topics=("copper",), hours_ago=0)
        _wait_for_version(client, version)
        assert "Breaking copper" in client.get("/render", params={"topics": "copper", "format": "txt", "date": "2026-11-27"}).text


def test_a_reader_with_nothing_new_is_told_so_above_the_empty_email(seeded):
    # Copper has nothing: the 27 Nov edition (07:00 Toronto, 12:00 UTC) for a new reader looks
    # back 72 hours, to 24 Nov 12:00 UTC.
    with TestClient(create_app(seeded, watch=False)) as client:
        html = client.get("/render", params={"topics": "copper", "date": "2026-11-27"}).text
        text = client.get("/render", params={"topics": "copper", "date": "2026-11-27", "format": "txt"}).text
        full = client.get("/render", params={"topics": "gold", "date": "2026-11-27"}).text
    note = "nothing new for this reader since 2026-11-24 12:00Z: a real send skips them (no-new-items)"
    assert html.startswith(f'<p id="nothing-new" ') and note in html
    assert text.startswith(f"[{note}]\n\n")
    assert 'id="nothing-new"' not in full
