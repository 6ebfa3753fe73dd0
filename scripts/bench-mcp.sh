#!/usr/bin/env bash
# The MCP benchmark: `atelier mcp` against a Python MCP server on the official SDK (MCPServer,
# FastMCP's successor) answering full-text search and reads on the same vault of real text
# (the Flask and Starlette documentation, scripts/corpus.sh), asked the natural questions of
# tests/search/labels.tsv; spawn-to-initialize, search (Atelier's default hybrid mode and words
# only) and read round trips, p50 and p99, measured by the SDK's client, with the ratios.
# Needs the release build and the SDK's venv (scripts/install-deps.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/corpus.sh
cargo build --workspace --release --locked --quiet
atelier="$CARGO_TARGET_DIR/release/atelier"
python="${ATELIER_MCP_PYTHON:-${XDG_CACHE_HOME:-$HOME/.cache}/atelier/mcp-venv/bin/python}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
corpus_lay_out "$work/docs"
"$atelier" --vault "$work/vault" init >/dev/null
"$atelier" --vault "$work/vault" projects add "$work/docs" --name docs >/dev/null
"$atelier" --vault "$work/vault" ingest docs >/dev/null
"$python" scripts/bench_mcp.py drive "$atelier" "$work/vault" tests/search/labels.tsv
