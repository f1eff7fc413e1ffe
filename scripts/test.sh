#!/usr/bin/env bash
# Lint, then the whole test suite (SQLite and PostgreSQL stores, Redis, the browser).
set -euo pipefail
cd "$(dirname "$0")/.."
export PRICEWATCH_TEST_PG_URL="${PRICEWATCH_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
export PRICEWATCH_TEST_REDIS_URL="${PRICEWATCH_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
