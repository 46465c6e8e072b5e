"""Saved runs: a posterior file with its identity, and the forecast summary the views read.

A run directory holds:

``posterior.nc``
    The ArviZ InferenceData (netCDF). Its ``posterior`` attributes carry the run's identity:
    ``case_id``, ``case_hash``, ``data_hash``, ``n_observations``, ``as_of``, ``model_version``,
    ``settings`` (JSON) and ``run_id``. :func:`load_posterior` refuses a file whose case hash
    differs from the case it is loaded against.

``forecast.json``
    Everything pages and reports show, computed once when the fit ends::

        {
          "case": str, "run_id": str, "as_of": "YYYY-MM-DD", "model_version": str,
          "case_hash": str, "data_hash": str, "n_observations": int, "settings": {...},
          "diagnostics": {"max_rhat", "min_ess_bulk", "min_ess_tail", "divergences",
                          "min_bfmi", "ok": bool, "problems": [str, ...]},
          "outcomes": [{"id", "question", "resolved": bool, "resolution_date": str | null,
                        "horizons": [{"years", "p_mean", "p_05", "p_25", "p_50", "p_75",
                                      "p_95", "mcse", "ess"}]}],   # [] when resolved
          "factors": [{"id", "name", "periods": [label...], "dates": [YYYY-MM-DD...],
                       "mean": [...], "p05": [...], "p25": [...], "p75": [...], "p95": [...]}],
          "indicators": [{"id", "name", "family", "unit", "aggregation",
                          "periods": [...], "dates": [...],       # grid cells through as-of + 4
                          "expected": {"mean", "p05", "p95"},     # per cell: rate / level
                          "rows": [{"start", "end", "value", "genuine", "observation_ids",
                                    "pred_p05", "pred_p50", "pred_p95", "pit", "surprise"}]}],
          "loadings": [{"indicator", "factor", "mean", "p05", "p95"}],
          "hazard": [{"outcome", "parameter", "prior_mean", "prior_sd",
                      "post_mean", "post_p05", "post_p95"}]
        }
"""
