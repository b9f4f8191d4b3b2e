"""The outbox provider: one ``.eml`` file per recipient in a folder (``DIGEST_OUTBOX``).

The development and demo default. Each file is exactly what SMTP would send, written
atomically (a temporary file renamed into place), so a reader of the folder never sees
half a message and a crash leaves no partial file behind under a final name.
"""

from __future__ import annotations

import os
import tempfile
from email.utils import make_msgid
from pathlib import Path

from ..message import build_message, message_domain
from ..settings import Settings
from .provider import OutgoingBatch, SendResult


class OutboxProvider:
    name = "outbox"
    max_recipients = 1000

    def __init__(self, settings: Settings):
        self.config = settings.config
        self.folder = Path(settings.outbox_dir)

    def file_name(self, batch: OutgoingBatch, delivery_id: int) -> str:
        return f"{batch.edition_date.isoformat()}-batch{batch.batch_id:06d}-delivery{delivery_id:09d}.eml"

    def send(self, batch: OutgoingBatch) -> SendResult:
        self.folder.mkdir(parents=True, exist_ok=True)
        domain = message_domain(self.config)
        ids: dict[str, str] = {}
        for recipient in batch.recipients:
            message_id = make_msgid(domain=domain)
            message = build_message(
                batch.body,
                config=self.config,
                to=recipient.email,
                tokens=recipient.tokens,
                message_id=message_id,
                extra_headers={"X-Digest-Edition": batch.edition_date.isoformat(),
                               "X-Digest-Batch": str(batch.batch_id)},
            )
            _write_atomically(self.folder / self.file_name(batch, recipient.delivery_id), message.as_bytes())
            ids[recipient.email] = message_id
        return SendResult(message_id=f"outbox-batch-{batch.batch_id}", per_recipient_ids=ids)

    def close(self) -> None:
        pass


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".eml")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
