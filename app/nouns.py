"""English singulars and plurals, for the model a folder without one becomes (inflect)."""

from __future__ import annotations

import functools
import threading

import inflect

# Words a site means as mass nouns, which inflect would make 'datum', 'metadatum'.
MASS_NOUNS = ("data", "metadata")
_lock = threading.Lock()


@functools.cache
def _engine() -> inflect.engine:
    engine = inflect.engine()
    for word in MASS_NOUNS:
        engine.defnoun(word, word)
    return engine


def singular(name: str) -> str:
    """'testimonials' → 'testimonial', 'categories' → 'category', 'blogPosts' → 'blogPost';
    a name that is singular already ('blog', 'news', 'status', 'analysis') as it is."""
    with _lock:
        engine = _engine()
        found = engine.singular_noun(name)
        if not found or found == name:
            return name
        # inflect also cuts the s of 'bus' or 'analysis': a name that has a plural of its
        # own ('buses', 'analyses') is read as the singular it is.
        if engine.plural_noun(name) != f"{name}s":
            return name
        return found


def plural(name: str) -> str:
    """'blog' → 'blogs', 'category' → 'categories'; 'news' → 'news'."""
    with _lock:
        return _engine().plural_noun(name)
