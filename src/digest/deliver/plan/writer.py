"""Writing a plan's batches while planning goes on: readers collected per selection, then
per body once its render is done; full batches written on one background thread while
the next chunk is read and selected."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor

from ...content import RenderedEmail
from ...models.compressed import StoredForm
from ...runtime import Runtime
from .bodies import EditionBodies
from .result import PlanSummary, SkipReason
from .rows import store_bodies, write_batches

#: Delivery rows per transaction (at least one batch) in a plan's last write (see
#: :meth:`BatchWriter.flush`).
FINAL_ROWS_PER_WRITE = 5000
#: While the last renders run, how often bodies rendered meanwhile are handed to the writer.
STORE_POLL_SECONDS = 0.1

#: Bodies rendered since the last write, by fingerprint: each body, or the form it is
#: stored in when a render worker rendered it.
NewBodies = dict[str, "RenderedEmail | StoredForm"]


def _slices(groups: list[tuple[str, list[int]]], rows: int) -> list[list[tuple[str, list[int]]]]:
    """``groups`` in order, cut into runs of about ``rows`` readers (at least one group
    each; one empty run when there are none)."""
    parts: list[list[tuple[str, list[int]]]] = [[]]
    size = 0
    for group in groups:
        if parts[-1] and size + len(group[1]) > rows:
            parts.append([])
            size = 0
        parts[-1].append(group)
        size += len(group[1])
    return parts


class BatchWriter:
    """Collects readers (subscriber ids) per selection, then per body once its render is
    done, and writes full batches as they fill up, storing each body in the transaction
    of its first batch."""

    def __init__(self, runtime: Runtime, edition_id: int | None, max_recipients: int, summary: PlanSummary,
                 dry_run: bool, *, plan_xmin: int | None = None):
        self.runtime = runtime
        self.plan_xmin = plan_xmin  # each batch's (Batch.plan_xmin)
        self.edition_id = edition_id
        self.max_recipients = max_recipients
        self.summary = summary
        self.dry_run = dry_run
        # Readers' subscriber ids, per selection fingerprint, then per body (their rows take
        # their addresses and zones from the subscribers when written: rows.insert_deliveries).
        self.selected: dict[str, list[int]] = defaultdict(list)
        self.pending: dict[str, list[int]] = defaultdict(list)
        self.unstored: NewBodies = {}  # rendered, no batch written yet
        self.body_ids: dict[str, int] = {}  # body fingerprint -> stored id (the writer thread's)
        self.skips: list[int] = []  # nothing new for them
        self.render_failed: dict[str, list[int]] = defaultdict(list)  # render error -> readers of that body
        self.bodies: EditionBodies | None = None
        # Batches are written on one background thread while planning goes on (the database
        # inserts overlap the next chunk's selection); at most one write is in flight, in
        # order, and its error surfaces at the next flush. It updates only the summary's
        # queued/batches and NO_NEW_ITEMS/RENDER_FAILED/ALREADY_SENT counts; planning only
        # BLOCKED and render_problems.
        self._writes = ThreadPoolExecutor(1, thread_name_prefix="digest-plan-writer") if not dry_run else None
        self._in_flight: Future | None = None
        self._wrote_batches = False  # a write with batches has been handed to the writer thread

    def flush(self, *, final: bool) -> None:
        """Write every full batch (``final``: every batch), for bodies already rendered
        (``final``: waiting for the rest). Selections rendering to the same body share it."""
        if final and not self.dry_run:
            self._store_while_rendering()
        for fingerprint in [f for f in self.selected if final or self.bodies.ready(f)]:
            self._collect(fingerprint)
        groups = self._batches(final=final)
        skips, self.skips = self.skips, []
        failed, self.render_failed = dict(self.render_failed), defaultdict(list)
        if not groups and not skips and not failed and not self.unstored:
            return
        if self.dry_run:
            self.unstored.clear()
            self.summary.batches += len(groups)
            self.summary.queued += sum(len(readers) for _, readers in groups)
            self.summary.skipped[SkipReason.NO_NEW_ITEMS] += len(skips)
            self.summary.skipped[SkipReason.RENDER_FAILED] += sum(map(len, failed.values()))
            return
        # Every body rendered since the last flush is stored now, batches or not, so bodies
        # are held in memory for one chunk at most (not, for a body whose readers never fill
        # a batch, until the end of a million-subscriber plan).
        new_bodies, self.unstored = self.unstored, {}
        self.wait()
        if not final:
            self._submit(groups, new_bodies, skips, failed)
            return
        # The last write holds every body's remaining readers (most of a small edition's):
        # in slices, each its own transaction, so sending starts after the first commit
        # instead of after all of them. Same batches, same numbers, in the same order.
        for part in _slices(groups, FINAL_ROWS_PER_WRITE):
            self._in_flight = self._writes.submit(self._write, part, new_bodies, skips, failed)
            new_bodies, skips, failed = {}, [], {}
            self.wait()

    def _collect(self, fingerprint: str) -> None:
        """A selection's readers to its body's (rendered, or waiting for its render), or
        to the render's failures."""
        body, rendered, left_out, error = self.bodies.take(fingerprint)
        readers = self.selected.pop(fingerprint)
        self.summary.render_problems.note(left_out, error, len(readers))
        if body is None:  # only this body's readers miss this edition, recorded as such
            self.render_failed[error].extend(readers)
            return
        if rendered is not None:
            self.unstored[body] = rendered
        self.pending[body].extend(readers)

    def _batches(self, *, final: bool) -> list[tuple[str, list[int]]]:
        """The pending readers' full batches (``final``: every batch), taken from them."""
        groups: list[tuple[str, list[int]]] = []
        for body_key, readers in self.pending.items():
            size = len(readers) if final else len(readers) - len(readers) % self.max_recipients
            for start in range(0, size, self.max_recipients):
                groups.append((body_key, readers[start:start + self.max_recipients]))
            del readers[:size]
        return groups

    def _store_while_rendering(self) -> None:
        """Every reader is selected; while the last renders run, the bodies rendered
        meanwhile are stored and their full batches written (on the writer thread), so the
        final write only has the rest. At 100,000 readers selecting took under a second and
        the renders several more, and the first request waited for the last render.
        Bodies are taken in the order the final write would take them, up to the first
        one still rendering, so their ids do not depend on which render finished first."""
        order = list(self.selected)  # nothing is selected any more
        taken = 0
        while True:
            while taken < len(order) and self.bodies.ready(order[taken]):
                self._collect(order[taken])
                taken += 1
            if taken == len(order):
                return
            if self._in_flight is None or self._in_flight.done():
                groups = self._batches(final=False)
                if groups or self.unstored:
                    self.wait()
                    new_bodies, self.unstored = self.unstored, {}
                    self._submit(groups, new_bodies, [], {})
            self.bodies.wait(order[taken], timeout=STORE_POLL_SECONDS)

    def _submit(self, groups, new_bodies: NewBodies, skips, failed: dict[str, list[int]]) -> None:
        """A write handed to the writer thread (the plan's first with batches on its own terms)."""
        write = self._write if self._wrote_batches else self._write_first_alone
        self._wrote_batches = self._wrote_batches or bool(groups)
        self._in_flight = self._writes.submit(write, groups, new_bodies, skips, failed)

    def _write_first_alone(self, groups, new_bodies: NewBodies, skips,
                           failed: dict[str, list[int]]) -> None:
        """The plan's first write with batches: the new bodies and the first batch in a
        transaction of their own, then the rest (same batches, numbers and order). A big
        edition's first write holds every batch filled while the render pool started
        (21,000 rows, 1.4 s at a million readers), and the first request waited for all of it."""
        if len(groups) > 1:
            self._write(groups[:1], new_bodies, [], {})
            groups, new_bodies = groups[1:], {}
        self._write(groups, new_bodies, skips, failed)

    def _write(self, groups, new_bodies: NewBodies, skips, failed: dict[str, list[int]]) -> None:
        """On the writer thread: the new bodies, then the batches, in one transaction."""
        with self.runtime.session() as session:
            ids = store_bodies(session, new_bodies.values())
            stored = {body: ids[rendered.fingerprint] for body, rendered in new_bodies.items()}
            if groups or skips or failed:
                write_batches(session, self.edition_id, [(self.body_ids.get(body) or stored[body], readers)
                                                         for body, readers in groups], skips, self.summary,
                              render_failed=failed, plan_xmin=self.plan_xmin)
        self.body_ids.update(stored)  # only once committed

    def wait(self) -> None:
        """Until the write in flight is committed (re-raising its error)."""
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()

    def close(self) -> None:
        if self._writes is not None:
            self._writes.shutdown(wait=True)
