#!/usr/bin/env bash
# Set up (idempotent) and run the demo on the real sample data; writes report/index.md with PNG figures.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/gd" demo --out report "$@"   # e.g. --full, --only register, --out DIR
