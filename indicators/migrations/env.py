"""Alembic environment for the Harbinger store.

Run programmatically by :meth:`indicators.store.Store.upgrade`, which builds the ``Config`` in code
(``indicators.store.alembic_config``) and passes an open connection in
``config.attributes["connection"]``; no ``alembic.ini`` is needed. Run with a URL only (e.g. from a
developer's own ini), an engine is created here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from indicators.store import metadata

config = context.config
target_metadata = metadata


def _run(connection: sa.engine.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url"), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
