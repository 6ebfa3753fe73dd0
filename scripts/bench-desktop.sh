#!/usr/bin/env bash
# Desktop start-up benchmark: start to first interactive paint and idle memory (PSS summed over
# the process tree) of Atelier's release app against a Tauri hello-world (src-tauri/hello)
# built by the same toolchain, under Xvfb, printed as ratios. ATELIER_BENCH_RUNS (default 5)
# sets the runs per app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
source scripts/env.sh
scripts/bundle.sh >/dev/null
cargo build --locked --release -p atelier-hello-bench --features custom-protocol >&2
source scripts/headless.sh
start_xvfb
"$CARGO_TARGET_DIR/release/atelier" --vault "$work/vault" init >/dev/null
start_tauri_driver 4454
ATELIER_BENCH_APP="$CARGO_TARGET_DIR/release/atelier-desktop" ATELIER_BENCH_VAULT="$work/vault" \
  ATELIER_BENCH_HELLO="$CARGO_TARGET_DIR/release/atelier-hello-bench" \
  ATELIER_E2E_DRIVER="http://127.0.0.1:4454" node tests/desktop/startup.bench.mjs
