"""PostgreSQL access shared by the api, the tasks and the migration.

A new connection per call: the fixture favours obviously-correct over fast, and
a pool would hide a database that went away (readiness must notice that)."""
import os

import psycopg

# The operator sets DATABASE_URL=postgresql://app:<pw>@<app>-postgres:5432/app.
CONNECT_TIMEOUT_SECONDS = 3


def connect() -> psycopg.Connection:
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set")
    return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS)


def items_table_exists(conn: psycopg.Connection) -> bool:
    # to_regclass gives NULL instead of an error for a missing table.
    return conn.execute("SELECT to_regclass('public.items') IS NOT NULL").fetchone()[0]
