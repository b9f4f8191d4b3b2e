"""The outbox provider: one ``.eml`` file per recipient in a folder (``DIGEST_OUTBOX``).

The development and demo default. Each file is exactly what SMTP would send, written
atomically (a temporary file renamed into place), so a reader of the folder never sees
half a message and a crash leaves no partial file behind under a final name.

Before its first batch the provider checks the folder (made if missing; a folder; a file
can be written in it; at least :data:`MIN_FREE_BYTES` free): if not, it halts with one
message naming ``DIGEST_OUTBOX``, and every batch stays queued. A write that fails later
(the disk filled up) certainly did not deliver: that reader and the rest of the batch are
``unsent`` (failed, retryable with ``--retry-failed``), and the edition stops there.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from email.message import EmailMessage
from pathlib import Path

from ...settings import Settings
from .base import OutgoingBatch, ProviderError, Recipient, SendResult, frame_message

#: Free space the folder must have before sending starts (a digest is ~100 KB a reader).
MIN_FREE_BYTES = 10_000_000


class OutboxProvider:
    name = "outbox"
    max_recipients = 1000

    def __init__(self, settings: Settings, *, min_free_bytes: int = MIN_FREE_BYTES):
        self.config = settings.config
        self.secret = settings.secret_key
        self.folder = Path(settings.outbox_dir)
        self.min_free_bytes = min_free_bytes
        self._checked = False

    def check(self) -> None:
        """Raise a halting :class:`ProviderError`, one line naming ``DIGEST_OUTBOX``, when
        the folder cannot take the edition: it cannot be made, is not a folder, a file
        cannot be written in it (read-only, no permission) or it has no room."""
        where = f"DIGEST_OUTBOX {self.folder}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise ProviderError(f"{where} is not a folder", permanent=True, halt=True) from None
        except OSError as exc:
            raise ProviderError(f"{where}: cannot create the folder ({exc.strerror or exc})",
                                permanent=True, halt=True) from None
        try:
            # A name of its own per check: send processes check the same folder at once.
            fd, probe = tempfile.mkstemp(dir=self.folder, prefix=".digest-write-check-")
            try:
                os.write(fd, b"check\n")
                os.fsync(fd)
            finally:
                os.close(fd)
                Path(probe).unlink(missing_ok=True)
        except OSError as exc:
            raise ProviderError(f"{where}: cannot write a file there ({exc.strerror or exc})",
                                permanent=True, halt=True) from None
        free = shutil.disk_usage(self.folder).free
        if free < self.min_free_bytes:
            raise ProviderError(f"{where}: only {free / 1e6:.1f} MB free, at least "
                                f"{self.min_free_bytes / 1e6:.0f} MB needed", permanent=True, halt=True)

    def file_name(self, batch: OutgoingBatch, delivery_id: int, message_id: str) -> str:
        """An edition's delivery is one message (a resend replaces its file); an email
        outside any edition (a confirmation, a welcome) is named by its Message-ID too,
        so a second one the same day does not replace the first."""
        name = f"{batch.edition_date.isoformat()}-batch{batch.batch_id:06d}-delivery{delivery_id:09d}"
        if batch.edition_id == 0:
            name += "-" + re.sub(r"[^0-9A-Za-z.]", "", message_id.split("@", 1)[0])
        return name + ".eml"

    def send(self, batch: OutgoingBatch) -> SendResult:
        if not self._checked:
            self.check()
            self._checked = True
        ids: dict[str, str] = {}
        result = SendResult(message_id=f"outbox-batch-{batch.batch_id}", per_recipient_ids=ids)
        for index, recipient in enumerate(batch.recipients):
            message = self.message(batch, recipient)
            message_id = str(message["Message-ID"])
            try:
                _write_atomically(self.folder / self.file_name(batch, recipient.delivery_id, message_id),
                                  message.as_bytes())
            except OSError as exc:  # nothing under its final name: certainly not delivered
                reason = f"not written to DIGEST_OUTBOX {self.folder}: {exc.strerror or exc}"
                result.unsent.update((r.email, reason) for r in batch.recipients[index:])
                result.halt = reason
                break
            if batch.edition_id == 0:  # an edition's are derived again from the ledger (digest audit)
                ids[recipient.email] = message_id
        return result

    def message(self, batch: OutgoingBatch, recipient: Recipient) -> EmailMessage:
        """The file's message (:func:`.base.frame_message`: what ``digest audit`` builds again)."""
        return frame_message(batch, recipient, config=self.config, secret=self.secret)

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
