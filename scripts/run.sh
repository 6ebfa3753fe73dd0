#!/usr/bin/env bash
# Installs what is missing, builds Atelier, and opens a demo vault with an example project.
# The first build compiles Kuzu's C++ and takes about 25 minutes on two cores; later runs are
# quick. Pass any atelier arguments to run them instead of the demo, e.g. `scripts/run.sh status`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
source scripts/env.sh
vault="${ATELIER_DEMO_VAULT:-$HOME/.local/share/atelier-demo}"
cargo build --locked -p atelier-cli
bin="$CARGO_TARGET_DIR/debug/atelier"
if [ $# -eq 0 ]; then
  echo "atelier is built at $bin; 'scripts/run.sh COMMAND…' runs a command on the demo vault." >&2
  exec "$bin" --vault "$vault" demo
fi
exec "$bin" --vault "$vault" "$@"
