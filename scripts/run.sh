#!/usr/bin/env bash
# Installs what is missing (build tools, WebKitGTK, npm packages), builds the workbench and the
# desktop app, and starts it on your vault (`--vault DIR`, else $ATELIER_HOME, else
# ~/.local/share/atelier; the window offers to create it the first time). Arguments go to the
# app, e.g. `scripts/run.sh --vault ~/my-vault`. The first build compiles Kuzu's C++ and takes
# about 45 minutes on two cores; later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --desktop
source scripts/env.sh

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No display (neither DISPLAY nor WAYLAND_DISPLAY is set): the desktop app needs one." >&2
  echo "The command line works without: $CARGO_TARGET_DIR/release/atelier --help" >&2
  exit 1
fi

npm run --silent build:ui
# The release profile and the whole workspace, like scripts/test.sh and scripts/bundle.sh: the
# features resolve alike, so one build of the dependencies serves all three. custom-protocol
# embeds ui/dist, so no dev server is needed (`npm run app` is the live-reload variant).
cargo build --locked --release --workspace --exclude atelier-hello-bench --bins \
  --features atelier-desktop/custom-protocol
echo "Starting Atelier; the CLI for the same vault is $CARGO_TARGET_DIR/release/atelier" >&2
exec "$CARGO_TARGET_DIR/release/atelier-desktop" "$@"
