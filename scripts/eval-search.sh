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

source scripts/corpus.sh
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
corpus_lay_out "$work/docs"

export ATELIER_HOME="$work/vault"
"$atelier" init >/dev/null
"$atelier" projects add "$work/docs" --name docs >/dev/null
echo "== ingest of the labelled corpus" >&2
"$atelier" ingest docs
echo "== search quality: tests/search/labels.tsv" >&2
"$atelier" eval search tests/search/labels.tsv --project docs
