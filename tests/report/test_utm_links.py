"""``[tracking] utm``: digest adds the UTM parameters to item links as it renders, so the
preview, a proof and the email sent through the SendGrid stand-in carry the same links
(and SendGrid is no longer asked to add them)."""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone

from click.testing import CliRunner

from digest.cli import main
from digest.settings import bundled_config_path, load_settings, load_publication_config
from digest.utm import with_utm, without_utm

from fakes.batches import email_for
from fakes.edition_seed import seed_edition
from fakes.fixtures import TEST_API_KEY, fake_sendgrid  # noqa: F401  (fixture)

UTM = "utm_source=digest&utm_medium=email&utm_campaign=am"
#: Reader 5 follows lithium and gold (fakes.edition_seed.TOPIC_SETS).
EXPECTED = {f"https://ridgeline.example/b/gold?{UTM}", f"https://ridgeline.example/b/lithium?{UTM}"}


def item_links(document: str) -> set[str]:
    return {html.unescape(url) for url in re.findall(r'href="(https://ridgeline\.example/[^"]*)"', document)}


def text_links(text: str) -> set[str]:
    return set(re.findall(r"https://ridgeline\.example/\S*", text))


def test_preview_proof_and_sent_email_carry_the_same_utm_links(db_url, tmp_path, fake_sendgrid, monkeypatch):
    config = tmp_path / "digest.toml"
    config.write_text(bundled_config_path().read_text() + '\n[tracking]\nutm = true\nutm_campaign = "am"\n')
    env = {
        "DIGEST_CONFIG": str(config), "DATABASE_URL": db_url, "DIGEST_PROVIDER": "sendgrid",
        "SENDGRID_API_KEY": TEST_API_KEY, "SENDGRID_API_HOST": fake_sendgrid.url,
        "DIGEST_OUTBOX": str(tmp_path / "outbox"), "DIGEST_SECRET_KEY": "test-secret-key-0123456789",
        "DIGEST_BASE_URL": "https://digest.test",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    seed_edition(load_settings(env), 5)
    today = datetime.now(timezone.utc).date().isoformat()
    runner = CliRunner()

    # Today's edition as a send right now builds it (with --date the preview is as of the
    # reader's 07:00, which leaves out an item published after it once the day is past 08:00).
    preview = runner.invoke(main, ["preview", "--subscriber", email_for(5),
                                   "--format", "html", "--output", str(tmp_path / "p.html")])
    assert preview.exit_code == 0, preview.output + str(preview.exception)
    assert item_links((tmp_path / "p.html").read_text()) == EXPECTED

    proof = runner.invoke(main, ["send", "--date", today, "--to", "editor@example.com", "--subscriber", email_for(5)])
    assert proof.exit_code == 0, proof.output + str(proof.exception)
    [proofed] = fake_sendgrid.delivered
    assert proofed.to == "editor@example.com"
    assert item_links(proofed.html) == EXPECTED == text_links(proofed.text)

    sent = runner.invoke(main, ["send", "--date", today])
    assert sent.exit_code == 0, sent.output + str(sent.exception)
    [message] = fake_sendgrid.messages_for(email_for(5))
    assert item_links(message.html) == EXPECTED == text_links(message.text)
    assert all("ganalytics" not in request.get("tracking_settings", {}) for request in fake_sendgrid.requests)
    assert len(fake_sendgrid.requests) >= 2


def test_utm_parameters_kept_when_present_and_taken_off_for_click_tracing():
    tracking = load_publication_config(bundled_config_path()).tracking.model_copy(update={"utm": True})
    assert with_utm("https://x.example/a?id=3&utm_source=feed", tracking) == \
        "https://x.example/a?id=3&utm_source=feed&utm_medium=email&utm_campaign=daily-digest"
    assert without_utm("https://x.example/a?id=3&utm_source=digest&utm_medium=email&utm_campaign=am") == \
        "https://x.example/a?id=3"
    assert without_utm(f"https://ridgeline.example/b/gold?{UTM}") == "https://ridgeline.example/b/gold"
