"""premailer's effect on one element's subtree, recorded once and replayed.

A fragment seen for the first time is often made of pieces seen before: the related
headlines block is a different handful of the day's headlines in every body, so as a
whole it is new in nearly every body, while each ``<p class="headline">`` in it is not.

premailer changes nothing in a subtree but attributes (``style``, the basic HTML
attributes it derives from it, ``align`` on floating images): it adds, removes and moves
no node and reads no text (``keep_style_tags``, no class removal, no link rewriting; a
fragment never holds a ``<style>``). And which rules apply to an element depends only on
the element and its ancestors' tags and classes (the selector guard of
:func:`digest.render.fragment_inline.ancestor_classes`). So, under the style block, the
chain of the subtree's parent and the subtree's own serialisation, the attributes
premailer leaves on each element of the subtree (in document order, each element's in
its order) are always the same: they are cached (bounded LRU) and, when every child of a
stand-in's wrappers is in the cache, set again instead of running premailer. The tree is
then serialised by lxml as it would have been after premailer, so no printing rule has to
be reproduced.
"""

from __future__ import annotations

import hashlib

from lxml import etree

from .lru import LRU

#: Distinct top-level elements of fragments (headlines, paragraphs of card bodies...).
ATTRIBUTE_CACHE_SIZE = 4096
#: (style-block digest, parent's chain, subtree digest) -> per element of the subtree (in
#: ``iter()`` order), its attributes after premailer. Shared by the process.
attribute_cache = LRU(ATTRIBUTE_CACHE_SIZE)

Attributes = tuple[tuple[tuple[str, str], ...], ...]


def _elements(node) -> list:
    return [element for element in node.iter() if isinstance(element.tag, str)]


def subtree_key(head_digest: bytes, chain: tuple, node) -> tuple:
    serialised = etree.tostring(node, method="html", encoding="utf-8", with_tail=False)
    return (head_digest, chain, hashlib.blake2b(serialised, digest_size=16).digest())


def record(node) -> Attributes:
    """The attributes of every element of ``node``'s subtree, as they are now."""
    return tuple(tuple(element.attrib.items()) for element in _elements(node))


def replay(pieces: list[tuple[object, Attributes]]) -> bool:
    """Set each recorded subtree's attributes; False (and nothing changed) unless every
    subtree has as many elements as its record."""
    planned = [(_elements(node), attributes) for node, attributes in pieces]
    if any(len(elements) != len(attributes) for elements, attributes in planned):
        return False
    for elements, attributes in planned:
        for element, items in zip(elements, attributes):
            element.attrib.clear()
            for name, value in items:
                element.set(name, value)
    return True
