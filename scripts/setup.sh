#!/usr/bin/env bash
# Create .venv with the pinned requirements and the gdbackend package, then fetch the sample data.
# Idempotent: a second run only checks a stamp (the hash of requirements.txt and pyproject.toml).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.gdimaging-stamp"
want="$(cat "$ROOT/requirements.txt" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  python3 -m venv "$VENV"
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing requirements (first run takes a minute or two)"
  "$VENV/bin/pip" install -q -r "$ROOT/requirements.txt" 2>&1 | grep -v "is ignored: it is neither" || true
  "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e "$ROOT" 2>&1 | grep -v "is ignored: it is neither" || true
  "$VENV/bin/python" -c "import torch, torchvision, monai, SimpleITK, vtk, gdbackend" \
    || { echo "[setup] the environment does not import; see the pip messages above" >&2; exit 1; }
  echo "$want" > "$STAMP"
fi
bash "$ROOT/scripts/fetch_data.sh"
