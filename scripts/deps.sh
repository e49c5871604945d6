#!/usr/bin/env bash
# Installs the Debian packages imgclass needs to build and test, when they are missing.
# Idempotent: prints nothing and exits 0 when everything is already installed.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

PKGS=(
    build-essential cmake pkg-config
    libdnnl-dev
    libjpeg62-turbo-dev libpng-dev
    libhdf5-dev
    libcurl4-openssl-dev libssl-dev
    libcjson-dev
    libcairo2-dev
)
# Optional extras: clang + compiler-rt for sanitizers/fuzzing (check-asan uses gcc's libasan,
# which build-essential brings).

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing missing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "deps.sh: need root to install: ${missing[*]}" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the index only when an install attempt fails for a stale/missing list.
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/imgclass-deps.log 2>&1; then
    $SUDO apt-get update -q >>/tmp/imgclass-deps.log 2>&1 || true
    if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/imgclass-deps.log 2>&1; then
        echo "deps.sh: apt-get install failed; last lines of /tmp/imgclass-deps.log:" >&2
        tail -n 20 /tmp/imgclass-deps.log >&2
        exit 1
    fi
fi
echo "deps.sh: installed ${missing[*]}"
