"""A :class:`~.reading.Report` as JSON (everything), CSV (one row per edition and a
total row, for spreadsheets) or a table for the terminal."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from .figures import TOPIC_FIGURES
from .reading import FIGURES, RATES, Report, rate, rates_of

FORMATS = ("table", "csv", "json")


def as_dict(report: Report) -> dict[str, Any]:
    def figures(counter) -> dict[str, Any]:
        return {**{name: counter[name] for name in FIGURES}, "rates": rates_of(counter)}

    return {
        "period": {"start": report.start.isoformat(), "end": report.end.isoformat()},
        "held": report.held,
        "untracked": list(report.untracked),
        "editions": [
            {"edition_id": e.edition_id, "date": e.date.isoformat(), "slot": e.slot, **figures(e.figures),
             "days": {day.isoformat(): {name: e.days[day][name] for name in FIGURES if name in e.days[day]}
                      for day in sorted(e.days)}}
            for e in report.editions
        ],
        "totals": figures(report.totals),
        "top_items": [{"url": i.url, "title": i.title, "kind": i.kind, "clicks": i.clicks} for i in report.top_items],
        "topics": [
            {"topic": t.topic, **{name: t.figures[name] for name in TOPIC_FIGURES},
             "open_rate": rate(t.figures["opened"], t.figures["delivered"]),
             "click_rate": rate(t.figures["clicked"], t.figures["delivered"])}
            for t in report.topics
        ],
    }


def as_json(report: Report) -> str:
    return json.dumps(as_dict(report), indent=2)


def as_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "slot", "edition_id", *FIGURES, *RATES])
    rows = [(e.date.isoformat(), e.slot, e.edition_id, e.figures) for e in report.editions]
    rows.append(("total", "", "", report.totals))
    for day, slot, edition_id, figures in rows:
        rates = rates_of(figures)
        writer.writerow([day, slot, edition_id, *(figures[name] for name in FIGURES),
                         *("" if rates[name] is None else f"{rates[name]:.6f}" for name in RATES)])
    return out.getvalue()


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) if n else str(c).ljust(w)  # noqa: E731
                                   for n, (c, w) in enumerate(zip(cells, widths)))
    return [line(header), line(["-" * w for w in widths]), *(line(row) for row in rows)]


def as_table(report: Report) -> str:
    lines = [f"report {report.start.isoformat()} to {report.end.isoformat()}", ""]
    if report.held:
        lines += [f"! sending is held: {report.held} ('digest resume --force' releases it)", ""]
    for kind in report.untracked:
        lines += [f"{kind} tracking is off ([tracking] {kind} = false): {kind}s of emails sent since are not counted", ""]
    if not report.editions:
        lines.append("no editions in this period")
        return "\n".join(lines)
    rows = [[f"{e.date.isoformat()} {e.slot}", *(e.figures[name] for name in FIGURES)] for e in report.editions]
    rows.append(["total", *(report.totals[name] for name in FIGURES)])
    lines += _table(["edition", *FIGURES], rows) + [""]
    rate_rows = [[f"{e.date.isoformat()} {e.slot}", *map(_percent, rates_of(e.figures).values())]
                 for e in report.editions]
    rate_rows.append(["total", *map(_percent, rates_of(report.totals).values())])
    lines += _table(["edition", *RATES], rate_rows) + [""]
    lines.append("top clicked items:" if report.top_items else "top clicked items: none")
    lines += [f"  {i.clicks:>6}  {i.title or '(not an item)'}  {i.url}" for i in report.top_items]
    lines.append("")
    lines.append("topics (open and click rates of the readers following each):")
    lines += _table(["topic", *TOPIC_FIGURES, "open_rate", "click_rate"], [
        [t.topic, *(t.figures[name] for name in TOPIC_FIGURES),
         _percent(rate(t.figures["opened"], t.figures["delivered"])),
         _percent(rate(t.figures["clicked"], t.figures["delivered"]))]
        for t in report.topics
    ]) if report.topics else ["  none yet"]
    lines.append("")
    lines.append("opens exclude machine opens (Apple Mail Privacy Protection); rates of delivered readers, "
                 "delivery and bounce rates of those sent")
    return "\n".join(lines)


def render(report: Report, fmt: str) -> str:
    return {"table": as_table, "csv": as_csv, "json": as_json}[fmt](report)
