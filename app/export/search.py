"""A search index a page can query with no server: one compact JSON file.

`{"docs": [[url, type, id, locale, title], …], "terms": {"word": [doc, …], …}}`: each word
of a record's readable text (title, body, text fields, lists of words), lowercased, with
the numbers of the documents holding it, ascending. A query's words are looked up the same
way and the lists intersected: every word must match, as `q` does in the API.
"""

from __future__ import annotations

import re

import orjson

from vellum.api.file_paths import record_path
from vellum.site.audience import Audience
from vellum.store.catalog import Catalog, plain_text
from vellum.store.records import Record

WORD = re.compile(r"\w+")
NOT_TEXT = {"enum", "media", "relation"}


class SearchIndex:
    """Builds the index; each record's words are kept by blob sha, so that an export after
    one commit reads only the records that changed."""

    def __init__(self) -> None:
        self._words: dict[str, frozenset[str]] = {}

    def build(self, catalog: Catalog, audience: Audience) -> bytes:
        """The index of every record variant the audience can see."""
        docs: list[list] = []
        terms: dict[str, list[int]] = {}
        seen: dict[str, frozenset[str]] = {}
        for model in sorted(catalog.records):
            for rid, variants in sorted(catalog.records[model].items()):
                for locale, rec in sorted(variants.items(), key=lambda v: v[0] or ""):
                    if not (audience.drafts or catalog.published(rec)):
                        continue
                    number = len(docs)
                    shown = locale if locale and locale != catalog.site.default_locale else None
                    title = rec.data.get("title") or rec.data.get("name") or rec.id
                    docs.append([record_path(model, rid, shown), model, rid, locale, title])
                    words = seen[rec.sha] = self._words.get(rec.sha) or self.words(catalog, rec)
                    for word in words:
                        terms.setdefault(word, []).append(number)
        self._words = seen
        return orjson.dumps({"docs": docs, "terms": terms}, option=orjson.OPT_SORT_KEYS)

    @staticmethod
    def words(catalog: Catalog, rec: Record) -> frozenset[str]:
        """The distinct lowercased words of a record's readable text."""
        fields = catalog.fields[rec.model]
        texts = [rec.id, plain_text(rec.body) if rec.body else ""]
        for name, value in rec.data.items():
            kind = fields[name].type if name in fields else "string"
            if kind in NOT_TEXT:
                continue
            if isinstance(value, str):
                texts.append(plain_text(value) if kind == "markdown" else value)
            elif isinstance(value, list):
                texts.extend(v for v in value if isinstance(v, str))
        return frozenset(WORD.findall(" ".join(texts).lower()))
