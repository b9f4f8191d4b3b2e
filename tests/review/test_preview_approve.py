"""The Approve button of ``digest preview --serve``: its review page lists a drafted
edition's bodies, approves with the fingerprint it showed, refuses a changed snapshot, and
takes no post from another site or without the server's own form token."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select
from starlette.testclient import TestClient

from digest.models import EditionApproval
from digest.preview.server import create_app
from digest.review.controls import redraft

from .helpers import add_briefing, seed_two_drafts, with_review

DAY, LATER = date(2026, 12, 7), date(2026, 12, 8)


def test_preview_review_page_approves_what_it_showed(runtime):
    runtime = with_review(runtime, approval="required")
    seed_two_drafts(runtime, DAY, LATER)

    with TestClient(create_app(runtime, watch=False), follow_redirects=False) as client:
        assert 'href="review"' in client.get("/").text
        page = client.get("/review", params={"date": str(DAY)}).text
        assert page.count("<tr><td>") == 2 and "Approve snapshot v1" in page
        token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)
        fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]{64})"', page).group(1)
        form = {"date": str(DAY), "fingerprint": fingerprint, "form_token": token}

        assert client.post("/approve", data={**form, "form_token": "guessed"}).status_code == 400
        assert client.post("/approve", data=form, headers={"Origin": "https://evil.example"}).status_code == 403
        assert client.post("/approve", data=form, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
        done = client.post("/approve", data=form)
        assert (done.status_code, done.headers["location"]) == (303, f"/review?date={DAY}")
        approved = client.get("/review", params={"date": str(DAY)}).text
        assert 'id="approved">Approved.' in approved and "(preview) approved snapshot v1" in approved

        later = client.get("/review", params={"date": str(LATER)}).text
        old = re.search(r'name="fingerprint" value="([0-9a-f]{64})"', later).group(1)
        add_briefing(runtime, "Gold slips", datetime.now(timezone.utc) - timedelta(minutes=1), topic="gold")
        redraft(runtime, LATER, by="desk", now=datetime.now(timezone.utc))
        refused = client.post("/approve", data={"date": str(LATER), "fingerprint": old, "form_token": token})
        assert refused.status_code == 409 and "changed since it was viewed: its snapshot is now v2" in refused.text
    with runtime.session() as session:
        assert [d for d, in session.execute(select(EditionApproval.edition_id))] == [1]  # DAY's only
