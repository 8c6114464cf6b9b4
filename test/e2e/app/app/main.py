"""The HTTP api, for `uvicorn app.main:app`.

Health endpoints follow the operator's three probe tiers: /health (startup) and
/health/live (liveness) only say the process serves HTTP; /health/ready says the
app can do its work: PostgreSQL answers, Redis answers, and the schema exists."""
import logging
import os
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from app.db import connect, items_table_exists
from app.tasks import write_row

logging.basicConfig(level=os.environ.get("LOG_LEVEL", "info").upper())
log = logging.getLogger("app")

REDIS_TIMEOUT_SECONDS = 3


@asynccontextmanager
async def lifespan(_: FastAPI):
    # Off by default: see app/migrate.py for why the api does not migrate.
    if os.environ.get("APP_CREATE_SCHEMA") == "1":
        from app.migrate import migrate

        migrate()
        log.info("APP_CREATE_SCHEMA=1: created the schema at startup")
    yield


app = FastAPI(title="backendapp e2e fixture", lifespan=lifespan)


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.get("/health/live")
def live() -> dict:
    return {"status": "ok"}


def not_ready_reason() -> str | None:
    """Why the app cannot serve requests yet, or None when it can."""
    try:
        with connect() as conn:
            conn.execute("SELECT 1")
            if not items_table_exists(conn):
                return "postgres: table items does not exist (migrations have not run)"
    except Exception as e:  # any failure means "not ready", with the reason shown
        return f"postgres: {type(e).__name__}: {e}".strip()
    url = os.environ.get("REDIS_URL")
    if not url:
        return "redis: REDIS_URL is not set"
    try:
        client = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
        client.ping()
        client.close()
    except Exception as e:
        return f"redis: {type(e).__name__}: {e}".strip()
    return None


@app.get("/health/ready")
def ready():
    reason = not_ready_reason()
    if reason:
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    return {"status": "ready"}


@app.post("/items")
def create_item(value: str) -> dict:
    """Enqueue the insert; the worker writes the row."""
    result = write_row.delay(value)
    return {"task_id": result.id, "value": value}


@app.get("/items")
def list_items(value: str) -> list[dict]:
    with connect() as conn:
        rows = conn.execute(
            "SELECT id, value, source, created_at FROM items WHERE value = %s ORDER BY id", (value,)
        ).fetchall()
    return [{"id": r[0], "value": r[1], "source": r[2], "created_at": r[3].isoformat()} for r in rows]


@app.get("/items/count")
def count_items(source: str | None = None) -> dict:
    with connect() as conn:
        if source is None:
            n = conn.execute("SELECT count(*) FROM items").fetchone()[0]
        else:
            n = conn.execute("SELECT count(*) FROM items WHERE source = %s", (source,)).fetchone()[0]
    return {"source": source, "count": n}
