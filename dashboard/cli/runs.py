"""``harbinger fit`` and ``harbinger forecast``: sample a run, print its forecast."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from dashboard.cli.support import DENSITY_OPTION, FORMAT_OPTION, Env, emit, pass_env
from dashboard.services.context import Failure, parse_date_option
from dashboard.services.runs import DEFAULT_ATTEMPTS, DEFAULT_SETTINGS, SAMPLERS


def _progress_printer() -> Any:
    """A progress bar on stderr (one line, redrawn), so stdout stays clean for JSON."""
    state = {"last": -1}

    def report(fraction: float, message: str) -> None:
        pct = int(fraction * 100)
        if pct == state["last"]:
            return
        state["last"] = pct
        bar = "#" * (pct // 4) + "-" * (25 - pct // 4)
        end = "\n" if fraction >= 1 else ""
        sys.stderr.write(f"\r[{bar}] {pct:3d}% {message[:60]:<60}{end}")
        sys.stderr.flush()

    return report


def register(main: click.Group) -> None:
    @main.command()
    @click.option(
        "--as-of", "as_of", metavar="YYYY-MM-DD", help="Fit on what was recorded by this date (default: today)."
    )
    @click.option(
        "--draws",
        type=click.IntRange(10, 100000),
        default=None,
        help=f"Posterior draws per chain (default {DEFAULT_SETTINGS['draws']}).",
    )
    @click.option(
        "--min-draws",
        "min_draws",
        type=click.IntRange(0, 100000),
        default=None,
        help="Draws per chain after which the fit may stop early, as soon as it passes its diagnostics "
        f"with room to spare (default {DEFAULT_SETTINGS['min_draws']}; 0: always sample --draws).",
    )
    @click.option(
        "--tune",
        type=click.IntRange(10, 100000),
        default=None,
        help=f"Warm-up draws per chain (default {DEFAULT_SETTINGS['tune']}).",
    )
    @click.option(
        "--warm-tune",
        "warm_tune",
        type=click.IntRange(0, 100000),
        default=None,
        help="Warm-up draws per chain of a fit that starts from the current run's posterior (within a "
        f"quarter of its as-of date; default {DEFAULT_SETTINGS['warm_tune']}; 0: always start from the prior).",
    )
    @click.option(
        "--chains", type=click.IntRange(1, 16), default=None, help=f"Chains (default {DEFAULT_SETTINGS['chains']})."
    )
    @click.option("--seed", type=int, default=None, help="Random seed (default fixed, so fits repeat).")
    @click.option(
        "--sampler",
        type=click.Choice(SAMPLERS),
        default=None,
        help="nutpie (default, fastest) or PyMC's own NUTS.",
    )
    @DENSITY_OPTION
    @click.option(
        "--attempts",
        type=click.IntRange(1, 10),
        default=None,
        help="Fits to try when one fails its diagnostics, each with twice the tuning and the next seed "
        f"(default {DEFAULT_ATTEMPTS}, or HARBINGER_FIT_ATTEMPTS).",
    )
    @pass_env
    def fit(
        env: Env,
        as_of: str | None,
        draws: int | None,
        min_draws: int | None,
        tune: int | None,
        warm_tune: int | None,
        chains: int | None,
        seed: int | None,
        sampler: str | None,
        density: str | None,
        attempts: int | None,
    ) -> None:
        """Sample the posterior and record a run (the previous run stays if this one fails).

        A fit that fails its diagnostics is retried with more tuning; every attempt is a run, and
        a failing run never replaces a passing forecast.
        """
        from dashboard.services.runs import FitFailed, fit_case

        day = parse_date_option(as_of, "--as-of")
        try:
            run_id = fit_case(
                env.store,
                env.case_id,
                as_of=day,
                progress=_progress_printer(),
                draws=draws,
                min_draws=min_draws,
                tune=tune,
                warm_tune=warm_tune,
                chains=chains,
                seed=seed,
                sampler=sampler,
                density=density,
                attempts=attempts,
            )
        except FitFailed as exc:
            raise Failure(str(exc)) from None
        run = env.store.get_run(run_id)
        diag = run["diagnostics"]
        status = "diagnostics ok" if run["diagnostics_ok"] else "DIAGNOSTICS FAILED: " + "; ".join(diag["problems"])
        kept = f", {diag['draws']} draws per chain" if diag.get("draws") else ""
        click.echo(
            f"run {run_id} (as of {run['as_of']}): max R-hat {diag['max_rhat']}, "
            f"min bulk ESS {diag['min_ess_bulk']}, {diag['divergences']} divergences{kept} — {status}"
        )
        from dashboard.cli.reviews import warn_stale

        warn_stale(env, parse_date_option(str(run["as_of"])[:10], "--as-of"))
        if not run["diagnostics_ok"]:
            from dashboard.services.runs import fit_outcome

            click.echo(fit_outcome(env.store, run_id))

    @main.command()
    @click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="The run fitted as of this date.")
    @click.option("--run", "run_id", metavar="ID", help="A particular run (default: the latest good run).")
    @FORMAT_OPTION
    @pass_env
    def forecast(env: Env, as_of: str | None, run_id: str | None, fmt: str) -> None:
        """Print a run's forecast: P(outcome by horizon) with 90% interval and diagnostics.

        A run fitted on an earlier version of the case (or with another model version) is printed
        all the same, with a warning on standard error that says so and asks for a refit.
        """
        from dashboard.services.runs import forecast_table, select_forecast

        forecast = select_forecast(env.store, env.case_id, run_id=run_id, as_of=parse_date_option(as_of, "--as-of"))
        if forecast.stale:
            click.echo(f"harbinger: warning: {forecast.stale}", err=True)
        doc = forecast.document
        if fmt == "json":
            keep = (
                "case",
                "run_id",
                "as_of",
                "model_version",
                "case_hash",
                "data_hash",
                "n_observations",
                "settings",
                "diagnostics",
                "outcomes",
            )
            whole = doc.to_json_dict()
            click.echo(json.dumps({k: whole[k] for k in keep}, indent=2))
            return
        if fmt == "table":
            d = doc.diagnostics
            click.echo(
                f"case {doc.case}  run {doc.run_id}  as of {doc.as_of}  "
                f"{'diagnostics ok' if d.ok else 'DIAGNOSTICS FAILED: ' + '; '.join(d.problems)}"
            )
        emit(forecast_table(doc), fmt)
