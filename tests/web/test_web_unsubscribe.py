"""One-click unsubscribe (RFC 8058): POST in both encodings, GET changes nothing,
forged and altered tokens are refused with nothing changed."""

from __future__ import annotations

import pytest

from web_helpers import add_subscriber, path_of, subscriber_state

ONE_CLICK = "List-Unsubscribe=One-Click"


def multipart_one_click(boundary: str = "----digestboundary7MA4YWxk") -> tuple[bytes, dict[str, str]]:
    """The multipart body some mailbox providers send, built by hand (no file parts)."""
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        "One-Click\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def post_urlencoded(client, path):
    return client.post(path, content=ONE_CLICK, headers={"Content-Type": "application/x-www-form-urlencoded"})


def post_multipart(client, path):
    body, headers = multipart_one_click()
    return client.post(path, content=body, headers=headers)


@pytest.mark.parametrize("post", [post_urlencoded, post_multipart], ids=["urlencoded", "multipart"])
def test_one_click_post_unsubscribes_at_once_without_redirect_or_cookie(client, web_runtime, links, post):
    sid = add_subscriber(web_runtime, "reader@example.com")
    response = post(client, path_of(links.unsubscribe_url(sid)))

    assert response.status_code == 200
    assert not response.is_redirect and "location" not in response.headers
    assert "set-cookie" not in response.headers
    assert "You are unsubscribed" in response.text
    state = subscriber_state(web_runtime, sid)
    assert state["status"] == "unsubscribed"
    assert state["status_changed_at"] is not None


def test_second_post_is_also_200_and_keeps_the_first_change_time(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "twice@example.com")
    path = path_of(links.unsubscribe_url(sid))
    assert post_urlencoded(client, path).status_code == 200
    first = subscriber_state(web_runtime, sid)["status_changed_at"]

    again = post_multipart(client, path)
    assert again.status_code == 200
    assert subscriber_state(web_runtime, sid)["status_changed_at"] == first


def test_get_shows_a_confirm_form_and_changes_nothing(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "scanner@example.com")
    path = path_of(links.unsubscribe_url(sid))
    response = client.get(path)

    assert response.status_code == 200
    assert 'method="post"' in response.text and f'action="{path}"' in response.text
    assert 'name="List-Unsubscribe" value="One-Click"' in response.text
    assert subscriber_state(web_runtime, sid)["status"] == "active"
    assert client.head(path).status_code == 200
    assert subscriber_state(web_runtime, sid)["status"] == "active"


def test_confirm_form_post_unsubscribes_through_the_same_path(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "button@example.com")
    path = path_of(links.unsubscribe_url(sid))
    response = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert subscriber_state(web_runtime, sid)["status"] == "unsubscribed"


def altered(token: str) -> str:
    """Change the first character of the signature (the part after the dot).

    Not the last one: its low bits can be base64 padding, which decodes the same.
    """
    payload, _, signature = token.partition(".")
    return f"{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


def test_forged_and_altered_tokens_are_refused_and_change_nothing(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "victim@example.com")
    other = add_subscriber(web_runtime, "other@example.com")
    token = links.unsubscribe_url(sid).rsplit("/", 1)[1]
    payload, _, signature = token.partition(".")
    other_payload = links.unsubscribe_url(other).rsplit("/", 1)[1].partition(".")[0]
    prefs_token = links.preferences_url(sid).rsplit("/", 1)[1]  # signed, but for another purpose

    for bad in (altered(token), f"{other_payload}.{signature}", payload, "not-a-token", prefs_token):
        path = f"/unsubscribe/{bad}"
        assert 400 <= client.get(path).status_code < 500, bad
        assert 400 <= post_urlencoded(client, path).status_code < 500, bad
    assert subscriber_state(web_runtime, sid)["status"] == "active"
    assert subscriber_state(web_runtime, other)["status"] == "active"


def test_a_bounced_address_stays_bounced(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "gone@example.com", status="bounced")
    response = post_urlencoded(client, path_of(links.unsubscribe_url(sid)))
    assert response.status_code == 200
    assert subscriber_state(web_runtime, sid)["status"] == "bounced"


def test_unknown_subscriber_gets_a_page_not_an_error(client, links):
    response = post_urlencoded(client, path_of(links.unsubscribe_url(999_999)))
    assert response.status_code == 200
    assert "no longer on our list" in response.text


def test_token_pages_are_not_cached_and_send_no_referrer(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "headers@example.com")
    response = client.get(path_of(links.unsubscribe_url(sid)))
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
