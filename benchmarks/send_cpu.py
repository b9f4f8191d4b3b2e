"""The send path's CPU per reader outside the database, for a batch of 1,000 readers.

    python benchmarks/send_cpu.py --rounds 20

What a send worker does for each reader of a claimed batch, phase by phase, on one
synthetic 1,000-reader batch (readers spread over the edition workload's zones, a body
with per-recipient links and dates the zones disagree on), each phase timed with
``time.process_time`` over ``--rounds`` rounds (the median printed):

* ``recipients``: each reader's tokens (three signed links, their dates) and one-click
  headers (``digest.deliver.recipients``, as ``send_batch`` builds them);
* ``payload``: the SendGrid request as a dict (``build_payload``);
* ``encode``: its bytes (``encode_payload``, orjson);
* ``transport``: the request posted by ``SendGridProvider`` to ``benchmarks/sink.py`` (a
  separate process, whose CPU is not counted) less the two phases above, which it repeats;
* ``outcome``: the provider's answer turned into the ledger's settlement (``batch._sent``);

and, beside them, the ledger floor's own ``sign`` and ``encode`` phases
(``benchmarks/floor.py``) for the same readers, so the two are compared on the same
machine in the same minute. No database.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataset  # noqa: E402  (benchmarks/ is not a package)
import edition  # noqa: E402
import floor  # noqa: E402

from digest.content import RenderedEmail, tokens_in  # noqa: E402
from digest.date_tokens import date_token  # noqa: E402
from digest.deliver import recipients as recipients_module  # noqa: E402
from digest.deliver.batch import _sent  # noqa: E402
from digest.deliver.dates import dated_for_zones  # noqa: E402
from digest.deliver.providers import OutgoingBatch, SendResult  # noqa: E402
from digest.deliver.providers.sendgrid import SendGridProvider  # noqa: E402
from digest.deliver.providers.sendgrid_payload import build_payload, encode_payload  # noqa: E402
from digest.links import LinkMaker  # noqa: E402
from digest.message import recipient_headers, shared_headers  # noqa: E402
from digest.settings import load_settings  # noqa: E402

READERS = 1000
BODY_ID = 1234
SENT_AT = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


def sample_body() -> RenderedEmail:
    """A body shaped like the edition's: links and the reader's address as tokens, the
    sent date, and twelve item dates of which a few (late evening UTC) fall on different
    days in different zones."""
    subject, text, html = floor.SAMPLE_BODY
    dates = " ".join(date_token(SENT_AT - timedelta(hours=6 * k + 1, minutes=30)) for k in range(12))
    links = "%%unsubscribe_url%% %%preferences_url%% %%archive_url%% %%email%% %%date:sent%%"
    html = html.replace("<body>", f"<body><p>{links}</p><p>{dates}</p>")
    text = f"{links}\n{dates}\n{text}"
    return RenderedEmail(subject, "preheader", html, text, frozenset(tokens_in(html) | tokens_in(text)))


def sample_rows() -> list[tuple[int, int, str, str]]:
    """(delivery id, subscriber id, email, zone) for 1,000 readers, as a batch reads them."""
    zones = list(dataset.TIME_ZONES)
    return [(10_000_000 + i, 500_000 + 7 * i, f"reader{500_000 + 7 * i}@example.com", zones[i % len(zones)])
            for i in range(READERS)]


def floor_sign_encode(rows, links: LinkMaker, body: RenderedEmail) -> tuple[float, float]:
    """The floor's per-batch sign and encode phases (``floor._run_share``), for ``rows``."""
    t0 = time.process_time()
    personalizations = []
    for _, subscriber_id, email, _ in rows:
        tokens = links.token_values(subscriber_id, email, BODY_ID)
        personalizations.append({
            "to": [{"email": email}],
            "substitutions": {f"%%{name}%%": value for name, value in tokens.items()},
            "headers": recipient_headers(tokens["unsubscribe_url"]),
            "custom_args": {"subscriber_id": str(subscriber_id)},
        })
    t1 = time.process_time()
    orjson.dumps({"from": floor.SENDER, "subject": body.subject,
                  "content": [{"type": "text/plain", "value": body.text}, {"type": "text/html", "value": body.html}],
                  "personalizations": personalizations, "categories": ["digest"],
                  "custom_args": {"edition_id": "1", "batch_id": "1"}})
    return t1 - t0, time.process_time() - t1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="The send path's CPU per reader, outside the database.")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    sink = edition.Sink()
    try:
        settings = load_settings(edition.environment("sqlite://", sink.url))
        config = settings.config
        links = LinkMaker(settings.base_url, settings.require_secret_key())
        provider = SendGridProvider(settings)
        body, rows = sample_body(), sample_rows()
        timings: dict[str, list[float]] = {name: [] for name in
                                           ("recipients", "payload", "encode", "transport", "outcome",
                                            "floor sign", "floor encode")}
        for round_number in range(args.rounds + 1):  # round 0 warms the caches and the connection
            t0 = time.process_time()
            dated = dated_for_zones(body, {row[3] for row in rows}, SENT_AT)
            outgoing = OutgoingBatch(batch_id=1, edition_id=1, edition_date=date(2026, 3, 10), body=dated.body,
                                     recipients=recipients_module._recipients(rows, BODY_ID, links, dated),
                                     headers=shared_headers(config), sent_at=SENT_AT)
            t1 = time.process_time()
            payload = build_payload(outgoing, config)
            t2 = time.process_time()
            encode_payload(payload)
            t3 = time.process_time()
            result = provider.send(outgoing)
            t4 = time.process_time()
            _sent(result if result.message_id else SendResult(message_id="x"), outgoing)
            t5 = time.process_time()
            sign, encode = floor_sign_encode(rows, links, dated.body)
            if round_number:
                for name, seconds in (("recipients", t1 - t0), ("payload", t2 - t1), ("encode", t3 - t2),
                                      ("transport", (t4 - t3) - (t3 - t1)), ("outcome", t5 - t4),
                                      ("floor sign", sign), ("floor encode", encode)):
                    timings[name].append(seconds)
        provider.close()
        stats = sink.stats()
    finally:
        sink.stop()
    median = {name: statistics.median(values) * 1e6 / READERS for name, values in timings.items()}
    ours = sum(median[name] for name in ("recipients", "payload", "encode", "transport", "outcome"))
    print(f"{args.rounds} rounds of one {READERS:,}-reader batch, CPU per reader (median of rounds), "
          f"{stats['requests']} requests at the sink:")
    for name, value in median.items():
        print(f"  {name:<13} {value:6.2f} us")
    print(f"  send path {ours:.2f} us per reader; floor {median['floor sign'] + median['floor encode']:.2f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
