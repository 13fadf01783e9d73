from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

import dburl
from models import Base

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

# Tables of the schema this project does not own (the harness's `items`) stay out of
# autogenerate, as in any application that shares its schema.
OWNED = set(Base.metadata.tables)


def include_name(name, type_, parent_names):
    return type_ != "table" or name in OWNED


def run_migrations_online() -> None:
    engine = create_engine(dburl.url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata,
                          include_name=include_name, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
