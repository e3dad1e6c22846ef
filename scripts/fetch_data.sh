#!/usr/bin/env bash
# Fetch the real test images from Debian packages into a cache, without installing anything:
#   insighttoolkit5-examples  ITK Software Guide slices (PD/T1, shifted, rotated), 3D T1 + skull strip
#   mricron-data              Colin27 T1 with and without skull (1 mm), AAL and other atlases
#   pydicom's wheel (PyPI)    its test files' real CT slice, CT_small.dcm (only that file is kept)
# Idempotent: does nothing when the cache is complete. Cache: $GDIMAGING_DATA (default: .data in the repo).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${GDIMAGING_DATA:-$ROOT/.data}"
PKGS=(insighttoolkit5-examples mricron-data)
PYDICOM=pydicom==3.0.2
MARKERS=(usr/share/doc/insighttoolkit5-examples/examples/Data/BrainProtonDensitySliceBorder20.png
         usr/share/mricron/templates/ch2bet.nii.gz
         pydicom/data/test_files/CT_small.dcm)

complete() { for m in "${MARKERS[@]}"; do [ -f "$DATA/raw/$m" ] || return 1; done; }
if complete; then echo "[data] cached in $DATA"; exit 0; fi

mkdir -p "$DATA/debs" "$DATA/raw"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
updated=0
for pkg in "${PKGS[@]}"; do
  if ! ls "$DATA/debs/${pkg}"_*.deb >/dev/null 2>&1; then
    if [ $updated -eq 0 ]; then $SUDO apt-get update -qq; updated=1; fi
    echo "[data] apt-get download $pkg"
    (cd "$DATA/debs" && apt-get download -q "$pkg" 2>&1 | grep -v unsandboxed || true)
    ls "$DATA/debs/${pkg}"_*.deb >/dev/null || { echo "[data] could not download $pkg" >&2; exit 1; }
  fi
done
for f in "$DATA"/debs/*.deb; do dpkg -x "$f" "$DATA/raw"; done
PY="$ROOT/.venv/bin/python"; [ -x "$PY" ] || PY=python3
if ! ls "$DATA"/debs/pydicom-*.whl >/dev/null 2>&1; then
  echo "[data] pip download $PYDICOM"
  "$PY" -m pip download -q --no-deps -d "$DATA/debs" "$PYDICOM" 2>&1 | grep -v "is ignored" || true
fi
"$PY" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('pydicom/data/test_files/CT_small.dcm', sys.argv[2])" \
  "$(ls "$DATA"/debs/pydicom-*.whl | head -1)" "$DATA/raw"
{ for f in "$DATA"/debs/*.deb; do dpkg-deb -f "$f" Package Version | paste -sd' '; done; echo "$PYDICOM"; } \
  > "$DATA/raw/VERSIONS.txt"
complete || { echo "[data] unpacked packages lack expected files" >&2; exit 1; }
echo "[data] ready in $DATA"; cat "$DATA/raw/VERSIONS.txt"
