#!/usr/bin/env bash
# Builds the installer: the workbench (ui/dist), the `atelier` CLI as the app's sidecar (Tauri
# `externalBin`, installed as /usr/bin/atelier next to /usr/bin/atelier-desktop), and a .deb.
# Prints the .deb's path. No AppImage: Tauri's AppImage bundler downloads linuxdeploy from
# GitHub at build time, which Atelier's builds never do.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --desktop
source scripts/env.sh

# `--workspace`: the features then resolve as in scripts/test.sh's build, whose artifacts serve
# here; selecting one package would rebuild every dependency whose features differ.
cargo build --locked --release --workspace --bins >&2
triple=$(rustc -vV | sed -n 's/^host: //p')
mkdir -p src-tauri/binaries
cp "$CARGO_TARGET_DIR/release/atelier" "src-tauri/binaries/atelier-$triple"

# `tauri build` runs `npm run build:ui`, then `cargo build --release` with the UI embedded.
npx tauri build --ci --bundles deb --config src-tauri/tauri.bundle.conf.json -- --locked --workspace --exclude atelier-hello-bench >&2
ls -t "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb | head -n 1
