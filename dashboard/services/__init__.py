"""The application layer: every use case of Harbinger, in one place for the three front ends.

A use case reads the store (:mod:`indicators`), calls the models' public functions
(:mod:`models`) and records or returns plain data: fit a case and read its forecasts
(:mod:`.runs`; every reader of a run's ``forecast.json`` goes through :mod:`.forecasts`), the fast update after new records (:mod:`.updates`), scenarios, explanations,
alerts and surprise flags (:mod:`.analysis`), backtests (:mod:`.backtests`), what the pages and
reports show (:mod:`.views`), and the shared context and row rendering (:mod:`.context`,
:mod:`.tables`).

The front ends (:mod:`dashboard.web`, :mod:`dashboard.cli`, :mod:`dashboard.report`) import this
package; it imports none of them and never builds a PyMC model itself (the import contracts in
``pyproject.toml`` hold both rules).
"""
