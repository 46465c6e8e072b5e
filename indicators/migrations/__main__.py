"""Developer entry point for migrations, with the Alembic config built in code (no alembic.ini).

    python -m indicators.migrations current
    python -m indicators.migrations upgrade
    python -m indicators.migrations revision -m "add alerts table" [--autogenerate]

The database is the one ``harbinger`` uses (``HARBINGER_DATABASE_URL`` / ``HARBINGER_HOME``).
"""

from __future__ import annotations

import argparse

from alembic import command

from indicators.store import Store, alembic_config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m indicators.migrations")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("current", help="show the store's revision")
    sub.add_parser("upgrade", help="upgrade the store to the newest revision")
    rev = sub.add_parser("revision", help="create a new revision file in indicators/migrations/versions")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--autogenerate", action="store_true", help="diff indicators.store.metadata and the store")
    args = parser.parse_args(argv)
    store = Store.from_env()
    if args.cmd == "current":
        print(store.schema_version() or "(empty database)")
    elif args.cmd == "upgrade":
        store.upgrade()
        print(store.schema_version())
    else:
        command.revision(alembic_config(store.url), message=args.message, autogenerate=args.autogenerate)


if __name__ == "__main__":
    main()
