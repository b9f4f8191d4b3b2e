"""End to end: the bundled sample content, ingested, previewed as the .eml a reader gets."""

from __future__ import annotations

import email
import importlib.util
import sys
from datetime import date
from email import policy
from pathlib import Path

import pytest

from digest.preview import PreviewRequest, build_preview

HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post")
CHECKLIST = Path(__file__).resolve().parents[1] / "render" / "checklist.py"


def _ingest_sources():
    try:
        from digest.ingest import ingest_sources
    except ImportError:
        pytest.skip("digest.ingest.ingest_sources does not exist yet: cannot load the sample content")
    return ingest_sources


def _checklist_module():
    if not CHECKLIST.is_file():
        return None
    spec = importlib.util.spec_from_file_location("render_checklist", CHECKLIST)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("render_checklist", module)
    spec.loader.exec_module(module)
    return module


def test_sample_edition_eml(runtime):
    _ingest_sources()(runtime, runtime.settings.config.sources)
    with runtime.session() as session:
        # The sample content is dated 24-27 Nov 2026; 28 Nov's edition (07:00 Toronto) has it all.
        result = build_preview(session, runtime.settings, PreviewRequest(edition_date=date(2026, 11, 28)))
    raw = result.as_eml()
    msg = email.message_from_bytes(raw, policy=policy.default)

    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    for name in HEADERS:
        assert msg[name], f"missing {name}"
    assert result.selection.briefing_count > 0, "the sample content should fill the sample edition"
    assert b"%%" not in raw

    checklist = _checklist_module()
    if checklist is None:
        pytest.skip("tests/render/checklist.py does not exist yet: checklist checks not run")
    checks = [getattr(checklist, name) for name in dir(checklist) if name.startswith("check_")]
    assert checks, "tests/render/checklist.py has no check_* functions"
    # Python's parser keeps the space left by unfolding a header folded right after its
    # colon (valid RFC 5322; mail clients strip it): strip it before the exact checks.
    for name, value in list(msg.items()):
        if str(value) != str(value).strip():
            msg.replace_header(name, str(value).strip())
    for check in checks:
        check(msg, result.selection, runtime.settings.config)
