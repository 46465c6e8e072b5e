"""The model's time grid: calendar quarters.

Quarters, not months: most indicators are sparse dated events (a few per year), the densest
series is a fiscal-year total (April–March, exactly four quarters), and a quarterly grid keeps the
latent state small (4 cells a year) so a full refit stays fast. A grid cell is a calendar quarter;
an observation covers the cells its period overlaps, weighted by the fraction of each cell's days
it covers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

CELLS_PER_YEAR = 4


def quarter_start(d: date) -> date:
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def add_quarters(d: date, n: int) -> date:
    m = d.year * 12 + (d.month - 1) + 3 * n
    return date(m // 12, m % 12 + 1, 1)


def add_months(d: date, n: int) -> date:
    """``d`` moved by ``n`` calendar months, the day clipped to the target month's length."""
    m = d.year * 12 + (d.month - 1) + n
    y, mo = m // 12, m % 12 + 1
    last = (date(y + (mo == 12), mo % 12 + 1, 1) - timedelta(days=1)).day
    return date(y, mo, min(d.day, last))


@dataclass(frozen=True)
class Grid:
    """Quarterly cells from ``start`` (a quarter start) for ``n_cells`` cells.

    ``as_of`` lies in cell ``as_of_cell``; cells after it carry no data.
    """

    start: date
    n_cells: int
    as_of: date

    @classmethod
    def for_case(cls, case_start: date, as_of: date, *, pad_to: int = 8) -> Grid:
        """Grid from the case start through the as-of quarter, padded to a multiple of ``pad_to``
        cells so that moving the as-of date within two years does not change array shapes."""
        start = quarter_start(case_start)
        if as_of < start:
            raise ValueError(f"as-of date {as_of} is before the case starts ({start})")
        needed = cls(start, 1, as_of).cell_of(as_of) + 1
        n = int(np.ceil(needed / pad_to) * pad_to)
        return cls(start, n, as_of)

    def cell_of(self, d: date) -> int:
        return (d.year - self.start.year) * 4 + (d.month - 1) // 3 - (self.start.month - 1) // 3

    @property
    def as_of_cell(self) -> int:
        return self.cell_of(self.as_of)

    def cell_start(self, i: int) -> date:
        return add_quarters(self.start, i)

    def cell_end(self, i: int) -> date:
        """Last day of cell ``i``."""
        return add_quarters(self.start, i + 1) - timedelta(days=1)

    def cell_days(self, i: int) -> int:
        return (self.cell_end(i) - self.cell_start(i)).days + 1

    @property
    def labels(self) -> list[str]:
        """Cell labels such as ``2016Q3`` (the ``period`` coordinate)."""
        out = []
        for i in range(self.n_cells):
            s = self.cell_start(i)
            out.append(f"{s.year}Q{(s.month - 1) // 3 + 1}")
        return out

    def coverage(self, first: date, last: date) -> tuple[np.ndarray, np.ndarray]:
        """Cells overlapped by the inclusive day interval [first, last] and the fraction of each
        cell's days covered."""
        c0, c1 = self.cell_of(first), self.cell_of(last)
        cells, weights = [], []
        for c in range(c0, c1 + 1):
            lo = max(first, self.cell_start(c))
            hi = min(last, self.cell_end(c))
            cells.append(c)
            weights.append(((hi - lo).days + 1) / self.cell_days(c))
        return np.asarray(cells, dtype=np.int64), np.asarray(weights, dtype=np.float64)


def to_date(value: object) -> date:
    """A ``date`` from a date, datetime, Timestamp or ISO string."""
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value if type(value) is date else value.date()  # type: ignore[union-attr]
    return pd.Timestamp(str(value)).date()
