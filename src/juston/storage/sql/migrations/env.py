"""Alembic environment: migrations always run on the connection juston hands over."""

from alembic import context

from juston.storage.sql.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("juston migrations run through juston.storage.sql.migrate.upgrade()")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
