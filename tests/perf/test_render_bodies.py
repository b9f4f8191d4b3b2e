"""``benchmarks/render_bodies.py run --hash``: the hash proving a render change writes the
same bytes covers every body's content as rendered, read back from the stored form a
render worker hands over (it failed outright once workers handed that form back)."""

from __future__ import annotations

import hashlib
import pickle

from digest.render import Renderer
from fakes.benchmarks import load_benchmark
from render.baseline_editions import editions
from render.factories import sample_config


def test_the_hash_is_over_each_body_as_rendered(tmp_path, capsys):
    config = sample_config()
    selections = [editions()[name] for name in ("sample", "single", "rtl")]
    path = tmp_path / "selections.pkl"
    path.write_bytes(pickle.dumps({"config": config, "selections": selections}))

    load_benchmark("render_bodies").run(path, profile=0, with_hash=True)
    printed = capsys.readouterr().out

    # Worked out without the worker's path: a plain renderer's bodies, field by field.
    expected = hashlib.sha256()
    renderer = Renderer(config)
    for selection in selections:
        rendered = renderer.render(selection)
        for value in (rendered.subject, rendered.preheader, rendered.html, rendered.text, "()"):
            expected.update(value.encode())
            expected.update(b"\0")
    assert "3 bodies: thread CPU" in printed
    assert printed.rstrip().endswith(f"; hash {expected.hexdigest()}")
