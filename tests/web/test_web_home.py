"""``/``, the publication's home, in headless Chromium: the signup form and the latest sent
editions; an edition's public web version is the all-topics body with nothing of any
reader in it (no address, no signed per-reader link)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from digest.cli import main
from digest.links import LinkMaker
from digest.models import Edition, Topic
from digest.preview.build import edition_moment
from digest.settings import bundled_config_path
from fakes.edition_seed import fresh_briefings
from test_web_signup_browser import live, messages  # noqa: F401  (live is a fixture)
from web_helpers import add_subscriber

READER = "private.reader@example.com"


def test_an_edition_never_sent_is_not_public(client, web_runtime):
    with web_runtime.session() as session:
        draft = Edition(date=date(2026, 12, 1))
        session.add(draft)
        session.flush()
        draft_id = draft.id
    assert client.get(f"/editions/{draft_id}").status_code == 404
    assert client.get("/editions/999999").status_code == 404
    home = client.get("/")
    assert home.status_code == 200
    assert "/editions/" not in home.text and "The first edition has not been sent yet." in home.text


@pytest.mark.browser
def test_home_lists_sent_editions_whose_web_version_holds_no_reader(live, chromium_path):  # noqa: F811
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    runtime, database_url, base = live
    outbox = Path(runtime.settings.outbox_dir)
    sid = add_subscriber(runtime, READER, topics=("gold",), timezone="UTC")
    with runtime.session() as session:  # a draft of another day: never sent, never listed
        session.add(Edition(date=date(2026, 1, 2)))
    # The public web version shows what was due at the edition's regular hour (07:00 in the
    # publication's zone), so the briefings are published before that moment, whatever the
    # time of day the test runs (after 13:00 UTC "an hour ago" was after it).
    zone = runtime.settings.config.schedule.default_timezone
    today = datetime.now(ZoneInfo(zone)).date()
    _, moment = edition_moment(today, zone, runtime.settings.config.schedule.default_send_hour)
    with runtime.session() as session:
        topics = {t.slug: t for t in session.scalars(select(Topic))}
        session.add_all(fresh_briefings(topics, ("gold", "copper", "lithium"),
                                        min(datetime.now(timezone.utc), moment) - timedelta(minutes=5)))
    env = {"DATABASE_URL": database_url, "DIGEST_OUTBOX": str(outbox), "DIGEST_CONFIG": str(bundled_config_path()),
           "DIGEST_SECRET_KEY": runtime.settings.secret_key, "DIGEST_BASE_URL": base, "DIGEST_PROVIDER": "outbox"}
    sent = CliRunner().invoke(main, ["send", "--date", today.isoformat()], env=env)
    assert sent.exit_code == 0, sent.output
    (digest,) = messages(outbox)
    assert digest["To"] == READER
    readers_html = digest.get_body(("html",)).get_content()
    # The reader's own signed links, as their email carried them.
    signed = set(re.findall(r"/(?:unsubscribe|preferences|archive)/([A-Za-z0-9_.-]+)", readers_html))
    assert len(signed) >= 2
    with runtime.session() as session:
        (edition_id, day), = session.execute(
            select(Edition.id, Edition.date).where(Edition.date != date(2026, 1, 2))).all()
    links = LinkMaker(base, runtime.settings.secret_key)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(java_script_enabled=False)
            page.goto(f"{base}/")
            form = page.locator("form[action='/subscribe'][method='post']")
            assert form.count() == 1
            assert form.get_by_label("Your email address").count() == 1
            assert form.get_by_label("Gold").count() == 1
            listed = page.locator("ul.editions a")
            assert listed.all_inner_texts() == [f"{day:%A} {day.day} {day:%B %Y}"]
            assert listed.get_attribute("href") == f"/editions/{edition_id}"

            listed.click()
            page.wait_for_url(f"{base}/editions/{edition_id}")  # there and loaded, not just committed
            html = page.content()
            # The all-topics body, though this reader follows gold alone.
            assert "Gold today" in html and "Copper today" in html and "Lithium today" in html
            assert READER not in html and "%%" not in html
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
            ours = [h for h in hrefs if h.startswith(base)]
            assert f"{base}/subscription" in ours and f"{base}/editions/{edition_id}" in ours
            assert set(ours) == {f"{base}/subscription", f"{base}/editions/{edition_id}"}
            for token in signed:
                assert token not in html
            for url in (links.unsubscribe_url(sid), links.preferences_url(sid)):
                assert url.rsplit("/", 1)[1] not in html
        finally:
            browser.close()
