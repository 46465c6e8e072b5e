"""The ``harbinger`` command line (:mod:`.main` is the entry point; one module per command group).

Commands parse options, call :mod:`dashboard.services` and print with :func:`.support.emit`;
``serve`` and ``worker`` start the web front end.
"""
