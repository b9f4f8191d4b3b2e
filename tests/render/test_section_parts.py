"""A topic's section (its MJML and its lines in "In this issue") is written once
per renderer: bodies are combinations of the day's topics, so the same section is in
many of them. Whether it was written afresh or taken from the cache, the body is the same."""

from __future__ import annotations

from dataclasses import replace

from digest.render import Renderer

from .factories import contents_edition


def test_a_section_shared_by_two_bodies_is_written_once_and_both_bodies_match_fresh_renders(config):
    long = contents_edition()  # lithium, gold, copper, ev-supply-chain
    lithium, gold, copper, _ = long.sections
    first = replace(long, sections=(lithium, gold))
    second = replace(long, sections=(lithium, copper))
    renderer = Renderer(config)
    written: list[str] = []
    get_template = renderer.env.get_template  # what part() and includes load a template with
    renderer.env.get_template = lambda name, *a, **k: (written.append(name), get_template(name, *a, **k))[1]
    bodies = [renderer.render(first), renderer.render(second)]

    assert written.count("partials/topic_section.mjml.j2") == 3  # lithium, gold, copper: lithium once
    assert written.count("partials/contents_section.mjml.j2") == 3  # both bodies list their contents
    for selection, body in zip((first, second), bodies):
        assert body == Renderer(config).render(selection)  # a fresh renderer writes every section
