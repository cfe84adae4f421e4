"""English singulars and plurals, for the model a folder without one becomes (inflect)."""

from __future__ import annotations

import functools
import sys
import threading
import types

# Words a site means as mass nouns, which inflect would make 'datum', 'metadatum'.
MASS_NOUNS = ("data", "metadata")
_lock = threading.Lock()


def _import_inflect() -> types.ModuleType:
    """inflect checks its own arguments with typeguard, whose decorator parses and compiles
    the whole inflect module again for each of its methods: seconds at every start of a
    command or server. Vellum passes it only strings, so it is imported without that check."""
    real = sys.modules.get("typeguard")
    plain = types.ModuleType("typeguard")
    plain.typechecked = lambda target: target
    sys.modules["typeguard"] = plain
    try:
        import inflect
    finally:
        if real is None:
            del sys.modules["typeguard"]
        else:
            sys.modules["typeguard"] = real
    return inflect


@functools.cache
def _engine():
    engine = _import_inflect().engine()
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
