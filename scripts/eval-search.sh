#!/usr/bin/env bash
# Search quality on real text, beside naive baselines in the same run: the documentation of
# Flask 3.1.3 and Starlette 1.10.0 (their PyPI source distributions, pinned by hash, cached)
# laid out as one project, ingested into a throwaway vault, and judged on the labelled
# questions of tests/search/labels.tsv by `atelier eval search` (recall@1, recall@5, MRR@10
# per mode and baseline). Prints the table and the ingest's passages per second and stage
# times; asserts nothing about the figures. Usage: scripts/eval-search.sh [ATELIER_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
atelier="${1:-$CARGO_TARGET_DIR/release/atelier}"

cache="${XDG_CACHE_HOME:-$HOME/.cache}/atelier/corpus"
mkdir -p "$cache"
fetch() { # name version sha256
  local file="$cache/$1-$2.tar.gz"
  if [ ! -f "$file" ]; then
    echo "Fetching the $1 $2 source distribution from PyPI" >&2
    local dir
    dir="$(mktemp -d)"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
      --no-build-isolation -d "$dir" "$1==$2" >/dev/null 2>&1 ||
      python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: -d "$dir" "$1==$2"
    mv "$dir/$1-$2.tar.gz" "$file.partial"
    rm -rf "$dir"
    mv "$file.partial" "$file"
  fi
  echo "$3  $file" | sha256sum --check --quiet
}
fetch flask 3.1.3 0ef0e52b8a9cd932855379197dd8f94047b359ca0a78695144304cb45f87c9eb
fetch starlette 1.10.0 b8399098d4c1e3522734f7235dc79b1fc967f96cf139c81e0fa30479e0685f9b

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/docs"
tar -xzf "$cache/flask-3.1.3.tar.gz" -C "$work" flask-3.1.3/docs
tar -xzf "$cache/starlette-1.10.0.tar.gz" -C "$work" starlette-1.10.0/docs
mv "$work/flask-3.1.3/docs" "$work/docs/flask"
mv "$work/starlette-1.10.0/docs" "$work/docs/starlette"
# Sphinx build files and images are not pages.
find "$work/docs" -type f ! -name '*.rst' ! -name '*.md' -delete

export ATELIER_HOME="$work/vault"
"$atelier" init >/dev/null
"$atelier" projects add "$work/docs" --name docs >/dev/null
echo "== ingest of the labelled corpus" >&2
"$atelier" ingest docs
echo "== search quality: tests/search/labels.tsv" >&2
"$atelier" eval search tests/search/labels.tsv --project docs
