"""Debian's Chromium, driven by Playwright, for the pages Vellum serves to browsers (the
admin page, GraphiQL, the API reference). Playwright never downloads a browser here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import urlparse

from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def browser_page(timeout_ms: int = 20_000, **page_options) -> Iterator[Page]:
    """A page of a fresh headless browser; closed however the test ends."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            page = browser.new_page(**page_options)
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            browser.close()


@contextlib.contextmanager
def offline_page(base: str, timeout_ms: int = 20_000) -> Iterator[tuple[Page, list[str]]]:
    """A page whose network reaches Vellum at `base` and nothing else: every other request
    is refused and its URL noted in the list yielded beside the page (a page that needs a
    CDN fails, and the test sees which address it wanted)."""
    host = urlparse(base).netloc
    outside: list[str] = []

    def only_vellum(route) -> None:
        if urlparse(route.request.url).netloc == host:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            context = browser.new_context()
            context.route("**/*", only_vellum)
            page = context.new_page()
            page.set_default_timeout(timeout_ms)
            yield page, outside
        finally:
            browser.close()
