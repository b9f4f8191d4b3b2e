"""Bodies are stored zlib-compressed and read back as they were rendered; a body
rendered in a worker process arrives compressed already (no second compression in the
planning process). SQLite and PostgreSQL."""

from __future__ import annotations

import pickle
import zlib

from sqlalchemy import text

from digest.content import RenderedEmail
from digest.deliver.plan.rows import store_body
from digest.models import RenderedBody
from digest.models.compressed import compressed_parts

HTML = "<!doctype html><html><body>" + "<p>Gold climbs on %%date:202611262330%% — é</p>" * 200 + "</body></html>"


def test_a_body_rendered_elsewhere_is_stored_compressed_and_reads_back_as_rendered(runtime):
    rendered = RenderedEmail("Gold climbs", "Gold, silver", HTML, "Gold climbs — é\n" * 100, frozenset())
    compressed_parts(rendered)  # as the render worker does
    arrived = pickle.loads(pickle.dumps(rendered))  # what the planning process receives
    assert arrived.__dict__["_compressed"] == rendered.__dict__["_compressed"]

    with runtime.session() as session:
        body_id = store_body(session, arrived)
    with runtime.session() as session:
        body = session.get(RenderedBody, body_id)
        assert (body.html, body.text, body.fingerprint) == (HTML, "Gold climbs — é\n" * 100, rendered.fingerprint)
        stored = session.execute(text("SELECT html FROM rendered_bodies")).scalar_one()
    assert zlib.decompress(stored).decode() == HTML and len(stored) < len(HTML.encode()) // 20


def test_bodies_are_compressed_at_level_3_and_those_stored_at_6_still_read_back():
    from digest.models.compressed import LEVEL, compress_text, decompress_text

    assert LEVEL == 3
    assert compress_text(HTML) == zlib.compress(HTML.encode("utf-8"), 3)
    assert compress_text(HTML) != zlib.compress(HTML.encode("utf-8"), 6)
    assert decompress_text(zlib.compress(HTML.encode("utf-8"), 6)) == HTML  # a body stored before
