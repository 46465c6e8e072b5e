"""Who is acting, on which store and case, and on which day: the context every use case needs.

Shared by the three front ends (the web app, the command line, the report renderer), so each
rule has one definition:

- :func:`today` (:func:`indicators.observations.today`): the later of the local and the UTC
  calendar day, the one rule for "today" everywhere: an observation dated today is accepted and
  ``fit --as-of`` the same day is not "in the future", wherever the machine's clock stands.
- :func:`actor`: the name recorded with a change made outside a login (``HARBINGER_USER``, else
  the operating-system user).
- :func:`open_store` / :func:`choose_case`: the store from the environment and the case to use.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from typing import Any

from indicators.errors import BadInput
from indicators.observations import today

__all__ = ["Failure", "actor", "as_date", "choose_case", "default_case", "open_store", "parse_date_option", "today"]


class Failure(Exception):
    """An expected failure that is not the user's input (exit code 1), e.g. no case loaded."""


def as_date(value: Any) -> date:
    """A calendar day from a date, a datetime or an ISO text (its first ten characters)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def actor() -> str:
    """Who is acting: ``HARBINGER_USER``, else the operating-system user name."""
    user = os.environ.get("HARBINGER_USER")
    if user:
        return user
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return "unknown"


def open_store() -> Any:
    """The store from the environment, migrated to the newest schema."""
    from indicators.store import Store

    store = Store.from_env()
    store.upgrade()
    return store


def choose_case(store: Any, case_option: str | None) -> str:
    """The case to work on: ``--case``, else the only case loaded."""
    ids = store.case_ids()
    if case_option:
        if case_option not in ids:
            known = f"loaded cases: {', '.join(ids)}" if ids else "no case is loaded (run 'harbinger init')"
            raise BadInput(f"--case: unknown case '{case_option}'; {known}.")
        return case_option
    if not ids:
        raise Failure("no case is loaded yet; run 'harbinger init' first.")
    if len(ids) > 1:
        raise BadInput(f"several cases are loaded ({', '.join(ids)}); choose one with --case.")
    return ids[0]


def default_case(store: Any, wanted: str | None = None) -> str:
    """The case a server shows when a URL names none: ``wanted`` (``serve --case``,
    ``HARBINGER_CASE``), else the first case loaded. Unlike :func:`choose_case`, several loaded
    cases are no error: the dashboard serves them all."""
    ids = store.case_ids()
    if wanted:
        return choose_case(store, wanted)
    if not ids:
        raise Failure("no case is loaded yet; run 'harbinger init' first.")
    return ids[0]


def parse_date_option(value: str | None, option: str) -> date | None:
    """``YYYY-MM-DD`` from an option, or BadInput naming the option."""
    if value is None:
        return None
    from indicators.observations import parse_date

    try:
        return parse_date(value)
    except ValueError as exc:
        raise BadInput(f"{option}: {exc}.") from None
