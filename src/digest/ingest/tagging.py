"""Topics for an item, from the publication's ``[[topics]]`` rules.

Precedence, first that yields anything wins:

1. topics given explicitly (a content file's front matter);
2. the item's feed categories, matched case-insensitively against each topic's
   ``categories``;
3. keyword rules: a topic's ``keywords`` found as whole words in the title + text;
4. the source's default ``topics`` from its ``[[sources]]`` table;
5. ``selection.fallback_topic`` -- counted in the ingest summary, so an editor sees
   which rules need a category or keyword.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Sequence

from ..settings import PublicationConfig
from .drafts import Draft
from .sanitize import html_to_text


@dataclass(frozen=True)
class _Rule:
    slug: str
    categories: frozenset[str]
    keywords: re.Pattern[str] | None


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


class Tagger:
    def __init__(self, config: PublicationConfig, source_topics: Sequence[str] = ()):
        self.fallback = config.selection.fallback_topic
        self.known = frozenset(config.topic_slugs)
        self.source_topics = tuple(t for t in source_topics if t in self.known)
        self.rules = [
            _Rule(
                slug=t.slug,
                categories=frozenset(_norm(c) for c in t.categories),
                keywords=re.compile(
                    r"\b(?:" + "|".join(re.escape(_norm(k)) for k in t.keywords) + r")\b"
                ) if t.keywords else None,
            )
            for t in config.topics
        ]

    def unknown(self, slugs: Sequence[str]) -> list[str]:
        return [s for s in slugs if s not in self.known]

    def topics_for(self, categories: Sequence[str], text: str) -> tuple[tuple[str, ...], bool]:
        """(topic slugs, whether the fallback was used) for an item without explicit topics."""
        cats = {_norm(c) for c in categories}
        found = [r.slug for r in self.rules if r.categories & cats]
        if not found:
            haystack = _norm(html_to_text(text))
            found = [r.slug for r in self.rules if r.keywords and r.keywords.search(haystack)]
        if not found:
            found = list(self.source_topics)
        if not found:
            return (self.fallback,), True
        return tuple(dict.fromkeys(found)), False

    def tag(self, draft: Draft) -> Draft:
        if draft.topics:
            return draft
        topics, fallback = self.topics_for(draft.categories, draft.tagging_text)
        return replace(draft, topics=topics, fallback_topic=fallback)
