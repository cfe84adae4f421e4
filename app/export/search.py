"""A search index a page can query with no server: one compact JSON file.

`{"fields": [...], "docs": [[url, type, id, locale, title, words], …]}`: one document per
record variant the audience can see, `words` its distinct lowercased words (title, body,
text fields, lists of words) joined by spaces. A page splits each document's words into a
set once, then keeps the documents holding every word of the query, as `q` does in the
API. A forward index rather than an inverted one: each document's entry depends on its
record alone, so after a commit only the records that changed are read again.
"""

from __future__ import annotations

import re

import orjson

from vellum.api.file_paths import record_path
from vellum.site.audience import Audience
from vellum.store.catalog import Catalog
from vellum.store.records import Record

WORD = re.compile(r"\w+")
# Markdown read as words without parsing it: a link's or image's target and HTML tags are
# not words of the text (parsing every body takes seconds at 10,000 records).
NOT_WORDS = re.compile(r"\]\([^)]*\)|<[^>]*>")
NOT_TEXT = {"enum", "media", "relation"}
FIELDS = ["url", "type", "id", "locale", "title", "words"]


class SearchIndex:
    """Builds the index, keeping each document's JSON by blob sha for the next build."""

    def __init__(self) -> None:
        self._docs: dict[tuple, bytes] = {}

    def build(self, catalog: Catalog, audience: Audience) -> bytes:
        """The index of every record variant the audience can see."""
        made: dict[tuple, bytes] = {}
        default = catalog.site.default_locale
        for model in sorted(catalog.records):
            for _, variants in sorted(catalog.records[model].items()):
                for locale, rec in sorted(variants.items(), key=lambda v: v[0] or ""):
                    if not (audience.drafts or catalog.published(rec)):
                        continue
                    key = (rec.path, rec.sha, locale == default)
                    made[key] = self._docs.get(key) or self._doc(catalog, rec, locale != default)
        self._docs = made
        head = b'{"fields":' + orjson.dumps(FIELDS) + b',"docs":['
        return head + b",".join(made.values()) + b"]}"

    @staticmethod
    def _doc(catalog: Catalog, rec: Record, own_path: bool) -> bytes:
        title = rec.data.get("title") or rec.data.get("name") or rec.id
        url = record_path(rec.model, rec.id, rec.locale if own_path and rec.locale else None)
        words = " ".join(sorted(SearchIndex.words(catalog, rec)))
        return orjson.dumps([url, rec.model, rec.id, rec.locale, title, words])

    @staticmethod
    def words(catalog: Catalog, rec: Record) -> set[str]:
        """The distinct lowercased words of a record's readable text."""
        fields = catalog.fields[rec.model]
        texts = [rec.id, NOT_WORDS.sub(" ", rec.body) if rec.body else ""]
        for name, value in rec.data.items():
            kind = fields[name].type if name in fields else "string"
            if kind in NOT_TEXT:
                continue
            if isinstance(value, str):
                texts.append(NOT_WORDS.sub(" ", value) if kind == "markdown" else value)
            elif isinstance(value, list):
                texts.extend(v for v in value if isinstance(v, str))
        return set(WORD.findall(" ".join(texts).lower()))
