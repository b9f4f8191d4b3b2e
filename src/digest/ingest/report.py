"""What one ingest run did, per source: for the CLI summary, logs and the worker."""

from __future__ import annotations

from dataclasses import dataclass, field

from .drafts import Rejection


@dataclass
class SourceResult:
    label: str
    kind: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    fallback: int = 0  # stored items that matched no topic rule and went to the fallback topic
    future: int = 0  # stored items dated after the run (kept; selection waits for their time)
    undated: int = 0  # new items without a date, dated when first seen (this run)
    history: int = 0  # new undated items in the source's first fetch: stored, in no edition
    not_modified: bool = False  # the server answered 304: nothing fetched, nothing written
    error: str | None = None  # the whole source failed
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def status(self) -> str:
        if self.error:
            return f"FAILED: {self.error}"
        if self.not_modified:
            return "not modified (304)"
        return "ok"


@dataclass
class IngestReport:
    results: list[SourceResult] = field(default_factory=list)

    @property
    def all_failed(self) -> bool:
        """True when there was at least one source and every one failed."""
        return bool(self.results) and all(r.failed for r in self.results)

    def totals(self) -> dict[str, int]:
        keys = ("new", "updated", "unchanged", "rejected", "fallback")
        return {k: sum(getattr(r, k) for r in self.results) for k in keys}

    def format(self) -> str:
        """A plain-text table, one row per source, then each refusal (with its code, see
        :mod:`.refusals`), warning and note."""
        if not self.results:
            return "no sources to ingest"
        head = ("source", "new", "updated", "unchanged", "rejected", "fallback", "status")
        rows = [head] + [
            (r.label, str(r.new), str(r.updated), str(r.unchanged), str(r.rejected), str(r.fallback), r.status)
            for r in self.results
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(head) - 1)]

        def line(row: tuple[str, ...]) -> str:
            cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:-1], widths[1:])]
            return "  ".join(cells + [row[-1]])

        out = [line(r) for r in rows]
        for r in self.results:
            for rej in r.rejections:
                out.append(f"  {r.label}: rejected {rej.item!r}: {rej.reason} [{rej.code}]")
            for warning in r.warnings:
                out.append(f"  {r.label}: warning: {warning}")
            if r.future:
                out.append(f"  {r.label}: {r.future} item(s) dated in the future, held until their time")
            if r.undated:
                out.append(f"  {r.label}: {r.undated} item(s) without a date, dated when first seen")
            if r.history:
                out.append(f"  {r.label}: {r.history} item(s) without a date in the source's first fetch, "
                           "kept as history (in no edition)")
        return "\n".join(out)
