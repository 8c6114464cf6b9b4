"""The schema migration: `python3 -m app.migrate` creates the table `items`.

Idempotent, so it can run before every rollout. The api does not run it unless
APP_CREATE_SCHEMA=1: the e2e tests prove that a migration step ran before the
api turned ready, which they could not if the api created the table itself."""
import sys

from app.db import connect

# A fixed key for pg_advisory_xact_lock: concurrent runs (several replicas, a Job
# retried while the first is still running) wait for each other instead of
# racing on CREATE TABLE IF NOT EXISTS, which can fail with a unique violation.
LOCK_KEY = 0x6170706D  # "appm"

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id         serial PRIMARY KEY,
    value      text NOT NULL,
    source     text NOT NULL DEFAULT 'api',
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


def migrate() -> None:
    with connect() as conn:  # commits on leaving the block
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute(SCHEMA)
        conn.execute("CREATE INDEX IF NOT EXISTS items_value ON items (value)")
        conn.execute("CREATE INDEX IF NOT EXISTS items_source ON items (source)")


if __name__ == "__main__":
    migrate()
    print("migrate: table items is ready", file=sys.stderr)
