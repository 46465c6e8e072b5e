"""Simulation-based calibration of the production fit (nutpie with the fused density).

    python benchmarks/sbc.py [--reps 100] [--jobs 1] [--seed 1] [--out data/calibration/sbc.json]
                             [--figure docs/images/sbc_ranks.png] [--draws 300] [--tune 300] [--chains 2]

Each replication draws every parameter from the model's own prior, simulates the data of a small
synthetic case from it (two factors, six indicators, two outcomes, 24 quarters), fits it with the
production path at short settings and ranks the truth among 99 thinned posterior draws, for the
factor states, persistences, loadings, count dispersions, hazard intercepts and one-year outcome
probabilities (:mod:`models.sbc` says how and why). Every replication shares one case layout, so
each process compiles the model once (the count is printed).

Prints per quantity the χ² p-value of its rank histogram, whether its ECDF stays inside the
simultaneous 99% band, and its median bulk ESS; then one JSON line (the summary without the
ranks). Writes the result document (ranks per quantity and their tests; what the Backtest page
shows) to ``--out`` and the grid of rank histograms with their 99% binomial bands to ``--figure``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models import sbc  # noqa: E402 - after the path is set

DEFAULT_OUT = ROOT / "data" / "calibration" / sbc.RESULT_FILE
DEFAULT_FIGURE = ROOT / "docs" / "images" / "sbc_ranks.png"
COLUMNS = 5


def plot_ranks(result: dict[str, Any], path: Path) -> None:
    """One PNG: a small rank histogram per quantity, with each bin's 99% binomial band shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quantities = result["quantities"]
    rows = -(-len(quantities) // COLUMNS)
    fig, axes = plt.subplots(rows, COLUMNS, figsize=(2.6 * COLUMNS, 2.1 * rows), squeeze=False)
    bins = result["bins"]
    for ax, (name, q) in zip(axes.flat, quantities.items(), strict=False):
        lo, hi = q["bin_band"]
        ax.axhspan(lo, hi, color="0.85", zorder=0)
        ax.axhline(q["n"] / bins, color="0.5", lw=0.8, zorder=1)
        ok = q["chi2_p"] >= 0.01 and q["ecdf_in_band"]
        ax.bar(range(bins), q["histogram"], width=0.9, color="#3b6ea8" if ok else "#c0392b", zorder=2)
        ax.set_title(name, fontsize=7.5)
        ax.text(
            0.02,
            0.97,
            f"χ² p={q['chi2_p']:.2f}  ECDF {'in' if q['ecdf_in_band'] else 'OUT of'} band",
            transform=ax.transAxes,
            fontsize=6.5,
            va="top",
        )
        ax.set_xticks([])
        ax.tick_params(labelsize=6)
        ax.set_ylim(0, max(max(q["histogram"]), hi) * 1.3)
    for ax in list(axes.flat)[len(quantities) :]:
        ax.axis("off")
    fig.suptitle(
        f"SBC rank histograms: {result['replications']} replications, ranks among {result['rank_draws']} draws, "
        f"{bins} bins; grey: each bin's {result['band_prob']:.0%} binomial band",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(result: dict[str, Any]) -> list[str]:
    """The per-quantity lines the benchmark prints."""
    lines = [f"{'quantity':<36} {'chi2 p':>7} {'ECDF':>8} {'ESS med':>8} {'ESS<L':>6}"]
    for name, q in result["quantities"].items():
        lines.append(
            f"{name:<36} {q['chi2_p']:>7.3f} {'in band' if q['ecdf_in_band'] else 'OUTSIDE':>8} "
            f"{q.get('ess_median', float('nan')):>8.0f} {q.get('ess_below_draws', ''):>6}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=100, help="replications (prior draws fitted)")
    ap.add_argument("--jobs", type=int, default=1, help="replications fitted at once (processes)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the prior draws (fits: 7 + replication)")
    ap.add_argument("--draws", type=int, default=sbc.SBC_FIT["draws"])
    ap.add_argument("--tune", type=int, default=sbc.SBC_FIT["tune"])
    ap.add_argument("--chains", type=int, default=sbc.SBC_FIT["chains"])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the result document (JSON)")
    ap.add_argument("--figure", type=Path, default=DEFAULT_FIGURE, help="the rank histograms (PNG)")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    print(f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f} at the start", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        print(f"\r{done} of {total} replications ({time.monotonic() - t0:.0f} s)", end="", file=sys.stderr, flush=True)

    result = sbc.run_study(
        args.reps,
        settings={"draws": args.draws, "tune": args.tune, "chains": args.chains},
        jobs=args.jobs,
        seed=args.seed,
        progress=progress,
    )
    print(file=sys.stderr)
    result["recorded"] = time.strftime("%Y-%m-%d", time.gmtime())
    result["machine"] = {"cpus": os.cpu_count(), "load_average_end": [round(x, 2) for x in os.getloadavg()]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print("\n".join(table(result)))
    print(
        f"compiles: {result['compiles']} in {result['processes']} process(es) for {result['replications']} fits; "
        f"density {', '.join(result['densities'])}; median fit {result['fit_seconds_median']} s; "
        f"fits with divergences {result['fits_with_divergences']}, with R-hat > 1.01 {result['fits_rhat_over_1_01']}"
    )
    plot_ranks(result, args.figure)
    brief = {k: v for k, v in result.items() if k not in ("quantities", "fits")}
    brief["quantities"] = {
        name: {k: q.get(k) for k in ("chi2_p", "ecdf_in_band", "ess_median")}
        for name, q in result["quantities"].items()
    }
    print(json.dumps(brief))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
