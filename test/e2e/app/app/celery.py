"""The Celery app, for `celery -A app.celery worker|beat|inspect ...`.

Celery finds the attribute named `app` here. Broker and result backend come from
the operator's CELERY_BROKER_URL and CELERY_RESULT_BACKEND (Redis databases 0
and 1); tasks go to Celery's default queue, `celery`."""
import os

from celery import Celery

app = Celery(
    "app",
    broker=os.environ.get("CELERY_BROKER_URL"),
    backend=os.environ.get("CELERY_RESULT_BACKEND"),
    include=["app.tasks"],
)

# Seconds between the beat's inserts: short, so a test sees rows within seconds.
BEAT_INTERVAL_SECONDS = 5.0

app.conf.update(
    # Keep retrying the broker at startup: in a fresh namespace the worker often
    # starts before Redis is ready, and should wait rather than crash-loop.
    broker_connection_retry_on_startup=True,
    # Results are only read by tests within minutes; do not let them pile up.
    result_expires=3600,
    task_track_started=True,
    timezone="UTC",
    beat_schedule={
        "beat-insert-row": {
            "task": "app.tasks.write_row",
            "schedule": BEAT_INTERVAL_SECONDS,
            "args": ("beat",),
            "kwargs": {"source": "beat"},
        },
    },
)
