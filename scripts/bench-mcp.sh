#!/usr/bin/env bash
# The MCP benchmark: `atelier mcp` against a Python MCP server on the official SDK (MCPServer,
# FastMCP's successor) answering the same full-text search on the same vault of 200 generated
# notes; spawn-to-initialize and search round trips (p50, p99), measured by the SDK's client.
# Needs the release build and the SDK's venv (scripts/install-deps.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --workspace --release --locked --quiet
atelier="$CARGO_TARGET_DIR/release/atelier"
python="${ATELIER_MCP_PYTHON:-${XDG_CACHE_HOME:-$HOME/.cache}/atelier/mcp-venv/bin/python}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq 0 199); do
  mkdir -p "$work/notes/part-$((i / 20))"
  {
    printf '# Note %d\n\nSee [[note-%d]].\n' "$i" "$(((i + 1) % 200))"
    for s in 0 1 2 3; do
      printf '\n## Section %d\n\nThe keeper of note %d counts ships in section %d; the tide turns and the lamp burns till dawn.\n' "$s" "$i" "$s"
    done
  } > "$work/notes/part-$((i / 20))/note-$i.md"
done
"$atelier" --vault "$work/vault" init >/dev/null
"$atelier" --vault "$work/vault" projects add "$work/notes" --name novel >/dev/null
"$atelier" --vault "$work/vault" ingest novel >/dev/null
"$python" scripts/bench_mcp.py drive "$atelier" "$work/vault"
