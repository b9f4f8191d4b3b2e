"""The outbox provider on a folder that cannot take the edition, on SQLite and
PostgreSQL: read-only or full before the first batch -> one message naming
``DIGEST_OUTBOX``, nothing sent or marked, a rerun sends everyone once; the disk filling
up mid-edition -> the readers not written are ``failed`` (never ``ambiguous``) and
``--retry-failed`` sends them once there is room.

Real file systems: as root, a small tmpfs mounted on the test's folder (read-only, or
tiny so it fills up); otherwise a folder without write permission (the full disk needs
root and is skipped without it)."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from digest.cli import main
from digest.deliver.edition import send_edition
from digest.deliver.providers.outbox import OutboxProvider
from digest.models import Delivery
from digest.runtime import Runtime
from digest.settings import bundled_config_path, load_settings

from fakes.edition_seed import batch_statuses, ledger, outbox_recipients, read, seed_edition

TODAY = datetime.now(timezone.utc).date()


def _mount_tmpfs(folder, options: str) -> bool:
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def read_only_folder(tmp_path):
    folder = tmp_path / "outbox"
    folder.mkdir()
    if _mount_tmpfs(folder, "ro,size=1m"):
        yield folder
        subprocess.run(["umount", str(folder)], check=True)
        return
    if os.geteuid() == 0:
        pytest.skip("needs mount (tmpfs) when run as root: root writes through file permissions")
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def _tiny_folder(tmp_path, size: str):
    folder = tmp_path / "outbox"
    folder.mkdir()
    if not _mount_tmpfs(folder, f"size={size}"):
        pytest.skip("a full file system needs root (a small tmpfs)")
    return folder


def _env(db_url, folder, monkeypatch) -> dict[str, str]:
    env = {"DIGEST_CONFIG": str(bundled_config_path()), "DATABASE_URL": db_url, "DIGEST_PROVIDER": "outbox",
           "DIGEST_OUTBOX": str(folder), "DIGEST_SECRET_KEY": "test-secret-key-0123456789",
           "DIGEST_BASE_URL": "https://digest.test"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _one_message(output: str) -> list[str]:
    return [line for line in output.splitlines() if "DIGEST_OUTBOX" in line]


def test_a_read_only_folder_is_one_message_before_sending(db_url, read_only_folder, monkeypatch, tmp_path):
    settings = load_settings(_env(db_url, read_only_folder, monkeypatch))
    emails = seed_edition(settings, 60)  # three bodies, three batches

    refused = CliRunner().invoke(main, ["send", "--date", TODAY.isoformat()])

    assert refused.exit_code == 1, refused.output
    [line] = _one_message(refused.output)
    assert "cannot write a file there" in line
    assert "Read-only file system" in line or "Permission denied" in line
    assert {status for status, _ in ledger(settings).values()} == {"queued"}
    assert set(batch_statuses(settings)) == {"pending"}

    writable = tmp_path / "writable"
    monkeypatch.setenv("DIGEST_OUTBOX", str(writable))
    rerun = CliRunner().invoke(main, ["send", "--date", TODAY.isoformat()])

    assert rerun.exit_code == 0, rerun.output
    assert outbox_recipients(writable) == Counter({e: 1 for e in emails})


def test_a_full_folder_is_one_message_before_sending(db_url, tmp_path, monkeypatch):
    folder = _tiny_folder(tmp_path, "64k")
    try:
        settings = load_settings(_env(db_url, folder, monkeypatch))
        seed_edition(settings, 20)

        refused = CliRunner().invoke(main, ["send", "--date", TODAY.isoformat()])

        assert refused.exit_code == 1, refused.output
        [line] = _one_message(refused.output)
        assert "MB free, at least 10 MB needed" in line
        assert {status for status, _ in ledger(settings).values()} == {"queued"}
        assert list(folder.iterdir()) == []
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_disk_that_fills_up_mid_edition_fails_the_unwritten_readers(db_url, make_settings, tmp_path):
    folder = _tiny_folder(tmp_path, "256k")
    try:
        settings = make_settings(db_url, DIGEST_OUTBOX=str(folder))
        emails = seed_edition(settings, 40, topic_sets=(("lithium",),))  # one batch of 40 (16 KB each: 16 fit)
        runtime = Runtime.open(settings)
        try:
            full = send_edition(runtime, OutboxProvider(settings, min_free_bytes=0), TODAY)
            written = outbox_recipients(folder)
            rows = ledger(settings)
            errors = {e for (e,) in read(settings, select(Delivery.error).where(Delivery.status == "failed"))}

            assert 0 < len(written) < 40 and set(written.values()) == {1}  # whole files only
            assert full.sent == len(written) and full.failed == 40 - len(written) and full.ambiguous == 0
            assert full.halted and "No space left on device" in full.halted
            assert {e for e, (status, _) in rows.items() if status == "sent"} == set(written)
            assert {status for status, _ in rows.values()} == {"sent", "failed"}
            assert errors == {f"not written to DIGEST_OUTBOX {folder}: No space left on device"}

            subprocess.run(["mount", "-o", "remount,size=32m", str(folder)], check=True)  # room again
            retried = send_edition(runtime, OutboxProvider(settings, min_free_bytes=0), TODAY, retry_failed=True)
        finally:
            runtime.close()
        assert (retried.sent, retried.failed) == (40 - len(written), 0)
        assert outbox_recipients(folder) == Counter({e: 1 for e in emails})
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_send_processes_checking_one_folder_at_once_all_pass(make_settings, tmp_path):
    """Every send process of a big edition checks the same outbox before its first batch:
    one process's check must not remove another's probe file (it did: a shared name)."""
    from concurrent.futures import ThreadPoolExecutor

    settings = make_settings(DIGEST_OUTBOX=str(tmp_path / "outbox"))

    def check_many(_):
        for _ in range(50):
            OutboxProvider(settings).check()

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(check_many, range(6)))  # raises the first ProviderError, if any
    assert list((tmp_path / "outbox").iterdir()) == []  # no probe left behind
