"""Everything a person touches, in layers (each may import only those below it):

- :mod:`dashboard.cli`: the command line;
- :mod:`dashboard.web`: the Dash app, login, the HTTP API and the worker;
- :mod:`dashboard.report`: HTML, PDF, CSV, JSON and netCDF exports;
- :mod:`dashboard.figures`, :mod:`dashboard.backtest_figures`: Plotly figures of runs and backtests;
- :mod:`dashboard.services`: the use cases, on top of :mod:`indicators` and :mod:`models`.
"""
