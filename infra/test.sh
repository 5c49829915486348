#!/usr/bin/env bash
# The test command (README, .ci/run): lint, the formatter's check, the documentation site, then
# the whole suite on SQLite and PostgreSQL.
# Needs infra/setup.sh first. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(infra/dev/test-postgres.sh)"
infra/engine.sh
.venv/bin/ruff check range_control tests bench infra/docs
.venv/bin/ruff format --check range_control tests bench infra/docs
# The documentation site, strictly: a broken link, a missing page or image fails here.
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict
.venv/bin/python -m pytest "$@"
