#!/usr/bin/env bash
# Installs the system packages Atelier needs to build, if any are missing (Debian/Ubuntu).
# Safe to run again: it installs nothing when everything is there.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
  echo "Rust is not installed. Install it from https://rustup.rs, then run this again." >&2
  exit 1
fi

# command -> Debian package
declare -A needed=(
  [cmake]=cmake        # Kuzu's C++ build
  [g++]=g++            # Kuzu and cxx
  [cc]=gcc             # bundled SQLite
  [make]=make          # Kuzu's cmake generator
  [pkg-config]=pkg-config
)
missing=()
for cmd in "${!needed[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${needed[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing: ${missing[*]}. Install them with your system's package manager." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  echo "Installing ${missing[*]} needs root; running apt-get through sudo." >&2
  sudo="sudo"
fi
echo "Installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
