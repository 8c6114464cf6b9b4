"""Celery tasks. The worker runs them; the api only enqueues them."""
import logging

from app.celery import app
from app.db import connect

log = logging.getLogger(__name__)


@app.task(name="app.tasks.write_row")
def write_row(value: str, source: str = "api") -> int:
    """Insert one row into `items` and return its id.

    It does not create a missing table: a worker that runs before the migration
    must fail loudly (psycopg.errors.UndefinedTable), not paper over it."""
    with connect() as conn:
        row_id = conn.execute(
            "INSERT INTO items (value, source) VALUES (%s, %s) RETURNING id", (value, source)
        ).fetchone()[0]
    log.info("wrote item %s: value=%r source=%r", row_id, value, source)
    return row_id
