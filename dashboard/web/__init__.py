"""The web front end: the Dash app (shell, pages, figures' callbacks), login and roles, the JSON
HTTP API, the WSGI entry point and the Celery worker that runs background callbacks.

Callbacks stay thin: each reads its inputs, calls a use case of :mod:`dashboard.services` and
turns the result into components. Imports :mod:`dashboard.services`, :mod:`dashboard.report`
(the Reports page) and the figure modules; never :mod:`dashboard.cli`.
"""

from pathlib import Path

PAGES_FOLDER = Path(__file__).parent / "pages"
"""The Dash ``pages`` folder: each module registers a page and its callbacks."""

ASSETS_FOLDER = Path(__file__).parent / "assets"
"""Stylesheets served by Dash."""
