#!/usr/bin/env bash
# Fetch the real test images from Debian packages into a cache, without installing anything:
#   insighttoolkit5-examples  ITK Software Guide slices (PD/T1, shifted, rotated), 3D T1 + skull strip
#   mricron-data              Colin27 T1 with and without skull (1 mm), AAL and other atlases
# Idempotent: does nothing when the cache is complete. Cache: $GDIMAGING_DATA (default: .data in the repo).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${GDIMAGING_DATA:-$ROOT/.data}"
PKGS=(insighttoolkit5-examples mricron-data)
MARKERS=(usr/share/doc/insighttoolkit5-examples/examples/Data/BrainProtonDensitySliceBorder20.png
         usr/share/mricron/templates/ch2bet.nii.gz)

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
for f in "$DATA"/debs/*.deb; do dpkg-deb -f "$f" Package Version | paste -sd' '; done > "$DATA/raw/VERSIONS.txt"
complete || { echo "[data] unpacked packages lack expected files" >&2; exit 1; }
echo "[data] ready in $DATA"; cat "$DATA/raw/VERSIONS.txt"
