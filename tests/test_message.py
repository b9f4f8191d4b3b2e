"""The MIME message every provider but SendGrid sends."""

from email import message_from_bytes, policy

from digest.content import RenderedEmail
from digest.message import build_message
from digest.settings import load_settings


def test_long_list_unsubscribe_is_not_folded_and_parses_back_exactly():
    config = load_settings({}, demo=True).config
    url = "https://digest.example.com/unsubscribe/" + "A" * 120
    rendered = RenderedEmail("Subject", "pre", f'<p><a href="%%unsubscribe_url%%">x</a>{"y" * 2000}</p>',
                             "text %%unsubscribe_url%%")
    msg = build_message(rendered, config=config, to="reader@example.com", tokens={"unsubscribe_url": url})
    raw = msg.as_bytes()
    assert f"List-Unsubscribe: <{url}>\r\n".encode() in raw
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["List-Unsubscribe"] == f"<{url}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
