#!/usr/bin/env bash
# The test command (README, .ci/run): lint, the formatter's check, then the whole suite on
# SQLite and PostgreSQL.
# Needs infra/setup.sh first. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(infra/dev/test-postgres.sh)"
infra/engine.sh
.venv/bin/ruff check range_control tests bench
.venv/bin/ruff format --check range_control tests bench
.venv/bin/python -m pytest "$@"
