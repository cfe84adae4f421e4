"""The read API at file-like paths, the layout of `vellum export`, so that a client changes
only its base URL between the live API and a static copy of it.

| path | answers as |
| --- | --- |
| `/api/models.json` | `/api/models` |
| `/api/{model}/{id}.json` | `/api/{model}/{id}` |
| `/api/{model}/{id}.{locale}.json` | `/api/{model}/{id}?locale={locale}` |
| `/api/{model}/page/{n}.json` | `/api/{model}?limit=100&offset={(n-1)*100}` |

`content` stands for a model too (`/api/content/page/1.json`, `/api/content/{id}.json`).
The path names the whole answer, as a file's does: a query string sent with it is ignored.
The rewrite happens before routing, so the answer is the live view's own, byte for byte,
with its ETag, rate limit and access rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

from vellum.site.site import RESERVED_NAMES, Site

PAGE_SIZE = 100
_NOT_MODELS = sorted({*RESERVED_NAMES, "_status", "v1", "openapi.json"} - {"content"})
_PREFIX = r"(?P<prefix>/api(?:/v1)?)"
_MODEL = r"(?P<model>(?!(?:" + "|".join(map(re.escape, _NOT_MODELS)) + r")/)[^/]+)"
_MODELS = re.compile(_PREFIX + r"/models\.json")
_PAGE = re.compile(_PREFIX + "/" + _MODEL + r"/page/(?P<n>[1-9][0-9]{0,8})\.json")
_RECORD = re.compile(_PREFIX + "/" + _MODEL + r"/(?P<stem>[^/]+)\.json")


def page_path(model: str, n: int) -> str:
    """The file-like path of a model's (or `content`'s) n-th list page."""
    return f"/api/{quote(model)}/page/{n}.json"


def record_path(model: str, record_id: str, locale: str | None = None) -> str:
    """The file-like path of a record, or of its answer in a locale."""
    suffix = f".{locale}" if locale else ""
    return f"/api/{quote(model)}/{quote(record_id, safe='')}{suffix}.json"


def live_path(path: str, site: Site) -> tuple[str, str] | None:
    """(path, query string) of the live route a file-like path (a WSGI PATH_INFO, decoded)
    stands for, else None."""
    if _MODELS.fullmatch(path):
        return path.removesuffix(".json"), ""
    page = _PAGE.fullmatch(path)
    if page is not None:
        offset = (int(page["n"]) - 1) * PAGE_SIZE
        return f"{page['prefix']}/{page['model']}", f"limit={PAGE_SIZE}&offset={offset}"
    found = _RECORD.fullmatch(path)
    if found is None:
        return None
    record_id, locale = site.split_locale(found["stem"])
    target = f"{found['prefix']}/{found['model']}/{record_id}"
    return target, f"locale={quote(locale)}" if locale else ""


class FilePaths:
    """WSGI middleware: a file-like path is served by the live route it stands for."""

    def __init__(self, wsgi_app: Callable, site: Callable[[], Site]) -> None:
        self.wsgi_app = wsgi_app
        self.site = site

    def __call__(self, environ: dict, start_response: Callable):
        path = environ.get("PATH_INFO", "")
        if path.endswith(".json") and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            target = live_path(path, self.site())
            if target is not None:
                environ["PATH_INFO"], environ["QUERY_STRING"] = target
        return self.wsgi_app(environ, start_response)
