"""Writes tests/render/baseline/: the fixed editions of :mod:`baseline_editions` as the
renderer renders them now (HTML with its tokens, text part, subject and preheader) and
their Chromium screenshots (light at every width of ``WIDTHS``, dark for ``DARK``;
256-colour PNGs, for people to look at).

    .venv/bin/python tests/render/make_baseline.py

It was run once, on commit bff4337 (the last commit of the old render path, with its
fragment/assembly machinery), before render was rebuilt; ``baseline/MADE-WITH`` records
that commit. ``test_baseline.py`` renders the same editions with the code under test and
compares: same subject, preheader, text part, links and visible text, and screenshots
(taken again in the same run from the stored HTML, so fonts are the machine's own on both
sides) differing in at most 0.5% of pixels. Re-run it only to move the baseline on
purpose, and say why in the commit.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1] / "tests"), str(HERE.parents[1])]

from playwright.sync_api import sync_playwright  # noqa: E402

from digest.render import Renderer  # noqa: E402
from fakes.samples import sample_config  # noqa: E402
from tests.render.baseline_editions import DARK, WIDTHS, editions  # noqa: E402
from tests.render.screens import CHROMIUM, CHROMIUM_ARGS, screenshot  # noqa: E402
from PIL import Image  # noqa: E402

OUT = HERE / "baseline"


def _save(path: Path, png: bytes) -> None:
    """A 256-colour copy (a third of the bytes): the stored screenshots are for people to
    look at; the test shoots the stored HTML again and compares at full colour."""
    Image.open(io.BytesIO(png)).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    renderer = Renderer(sample_config())
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    rendered = {name: renderer.render(selection) for name, selection in editions().items()}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, email in rendered.items():
            (OUT / f"{name}.html").write_text(email.html, encoding="utf-8")
            (OUT / f"{name}.txt").write_text(email.text, encoding="utf-8")
            (OUT / f"{name}.json").write_text(json.dumps({"subject": email.subject, "preheader": email.preheader},
                                                         ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            for width in WIDTHS:
                _save(OUT / f"{name}-{width}.png", screenshot(browser, email.html, width))
                if name in DARK:
                    _save(OUT / f"{name}-dark-{width}.png", screenshot(browser, email.html, width, dark=True))
        browser.close()
    (OUT / "MADE-WITH").write_text(f"{commit}\n", encoding="utf-8")
    print(f"{len(rendered)} editions written to {OUT.relative_to(HERE.parents[1])} (commit {commit[:7]})")


if __name__ == "__main__":
    main()
