"""The e2e fixture app: the smallest FastAPI + Celery backend that exercises
everything the operator wires up (PostgreSQL, Redis as broker and result
backend, api, worker, beat). Built into ghcr.io/finwise/backend:1.4.2 by
hack/images/build.sh; see test/e2e/app/README.md."""
