"""The `Vellum` object behind the request being answered: one accessor for every layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from vellum.services import Vellum


def current_vellum() -> Vellum:
    """The vellum this app was built with (`create_app` hangs them on the app)."""
    return current_app.extensions["vellum"]
