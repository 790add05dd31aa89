#!/usr/bin/env bash
# Installs the Debian packages Birch needs to build, test and benchmark, when they are missing.
# Idempotent: a machine that has everything is left alone and no network is touched.
# Usage: tools/setup.sh [--check]   (--check lists what is missing and exits 1 if anything is)
set -euo pipefail

# One package per line; later issues add theirs here.
PACKAGES=(
  meson ninja-build pkg-config gcc clang llvm
  libssl-dev nettle-dev liblmdb-dev liburing-dev dpdk-dev libdpdk-dev
  libh2o-evloop-dev
  libmicrohttpd-dev wrk nginx-light certspotter
  python3 openssl
)

usage() { sed -n '2,4s/^# \{0,1\}//p' "$0"; }
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --check|"") ;;
  *) echo "setup: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "setup: missing: ${missing[*]}"
  exit 1
fi

echo "setup: installing ${missing[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else
    echo "setup: need root to install ${missing[*]} (no sudo found); run as root or install them by hand" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/birch-setup.log 2>&1; then
  "${SUDO[@]}" apt-get update -q >>/tmp/birch-setup.log 2>&1 || true
  if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/birch-setup.log 2>&1; then
    echo "setup: apt-get could not install ${missing[*]}; see /tmp/birch-setup.log:" >&2
    tail -n 5 /tmp/birch-setup.log >&2
    exit 1
  fi
fi
echo "setup: installed ${missing[*]}"
