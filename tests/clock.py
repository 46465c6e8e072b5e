"""A fixed clock for tests whose outcome would otherwise depend on the day they run.

The product reads the time in one place, :mod:`indicators.observations` (``utcnow`` and
``today``, imported by name wherever they are used); :func:`fixed_clock` replaces both, in that
module and in every module of the project that holds them, and puts the real ones back after.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

PACKAGES = ("indicators", "models", "dashboard")


@contextmanager
def fixed_clock(start: datetime, step: timedelta = timedelta(milliseconds=10)) -> Iterator[None]:
    """Inside: "now" is ``start`` (naive UTC), a ``step`` later at each reading, and "today" its
    day. Modules imported inside the block are swept too when it ends."""
    import indicators.observations as source

    real = {"utcnow": source.utcnow, "today": source.today}
    ticks = itertools.count()

    def utcnow() -> datetime:
        return start + next(ticks) * step

    def today() -> date:
        return utcnow().date()

    fake = {"utcnow": utcnow, "today": today}
    _swap(real, fake)
    try:
        yield
    finally:
        _swap(fake, real)


def _swap(old: dict[str, object], new: dict[str, object]) -> None:
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in PACKAGES:
            continue
        for attr, value in old.items():
            if getattr(module, attr, None) is value:
                setattr(module, attr, new[attr])
