"""The preferences page's "download my data" and "delete me", behind its signed link."""

from __future__ import annotations

from sqlalchemy import func, select

from digest.models import ConsentRecord, Subscriber
from digest.subscribers.consent import Evidence, record_consent
from web_helpers import add_subscriber, path_of


def test_a_reader_downloads_their_data_then_deletes_themselves(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "mine@example.com", topics=("gold", "silver"))
    add_subscriber(web_runtime, "someone.else@example.com")
    with web_runtime.session() as session:
        record_consent(session, sid, "signup", Evidence("192.0.2.5", "Browser/2.0", "api", "I agree."))
    page = path_of(links.preferences_url(sid))
    html = client.get(page).text
    assert f'<a href="{page}/data">Download my data</a>' in html
    assert f'<form method="post" action="{page}/forget">' in html

    download = client.get(f"{page}/data")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="my-data.json"'
    data = download.json()
    assert data["profile"]["email"] == "mine@example.com" and data["topics"] == ["gold", "silver"]
    assert [c["client_ip"] for c in data["consent_records"]] == ["192.0.2.5"]

    assert client.get(f"{page}/forget").status_code == 405  # a link scanner erases nothing
    unticked = client.post(f"{page}/forget", data={})
    assert unticked.status_code == 400 and "Nothing was deleted" in unticked.text
    forged = client.post(f"{page[:-2]}xx/forget", data={"confirm": "yes"})
    assert forged.status_code == 400
    with web_runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 2

    done = client.post(f"{page}/forget", data={"confirm": "yes"})
    assert done.status_code == 200 and "Your data is deleted" in done.text
    with web_runtime.session() as session:
        assert list(session.scalars(select(Subscriber.email))) == ["someone.else@example.com"]
        assert session.scalar(select(func.count()).select_from(ConsentRecord)) == 0
    assert client.get(page).status_code == 404
    assert client.get(f"{page}/data").status_code == 404
