#!/usr/bin/env bash
# End to end on the real app: builds the installer (release binary with the UI embedded, the CLI
# sidecar, the .deb), then
#   1. drives the release binary under Xvfb through tauri-driver + WebKitWebDriver
#      (tests/desktop/workbench.e2e.mjs) and checks the vault with the CLI afterwards;
#   2. unpacks the .deb into a temp root and checks its binary opens a first window.
# Screenshots go to $CARGO_TARGET_DIR/e2e/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
source scripts/env.sh
deb=$(scripts/bundle.sh)
app="$CARGO_TARGET_DIR/release/atelier-desktop"
cli="$CARGO_TARGET_DIR/release/atelier"
out="$CARGO_TARGET_DIR/e2e"
source scripts/headless.sh
start_xvfb

echo "== e2e: the release app through WebDriver" >&2
"$cli" --vault "$work/vault" init >/dev/null
# The fixture project, with its symlinks kept (one points at its neighbour outside it).
cp -a crates/core/tests/fixtures/novel crates/core/tests/fixtures/outside "$work/"
# The provider stand-in (tests/providers/stub.py) the desktop runs a play against.
printf '%s' '{"scene": ["## Goal\nMara reaches the lamp room.\n\n## Conflict\nThe storm cuts the power.\n\n## Beats\n1. She climbs.\n2. The glass breaks.\n3. She lights the oil lamp.\n\n## Outcome\nThe trawler turns from the rocks."]}' \
  >"$work/replies.json"
python3 tests/providers/stub.py --replies "$work/replies.json" >"$work/stub.out" &
headless_pids+=("$!")
stub_port=""
for _ in $(seq 100); do
  stub_port=$(sed -n 's/^port //p' "$work/stub.out")
  [ -n "$stub_port" ] && break
  sleep 0.1
done
[ -n "$stub_port" ] || { echo "the provider stub did not start" >&2; exit 1; }
start_tauri_driver 4444
ATELIER_E2E_APP="$app" ATELIER_E2E_CLI="$cli" ATELIER_E2E_VAULT="$work/vault" ATELIER_E2E_OUT="$out" \
  ATELIER_E2E_PROJECT="$work/novel" ATELIER_E2E_STUB="http://127.0.0.1:$stub_port/v1" \
  ATELIER_E2E_DRIVER="http://127.0.0.1:4444" node tests/desktop/workbench.e2e.mjs \
  || { echo "tauri-driver said:" >&2; tail -n 40 "$work/tauri-driver.log" >&2; exit 1; }

echo "== e2e: the .deb unpacks and its app opens a window" >&2
root="$work/deb-root"
dpkg-deb -x "$deb" "$root"
for bin in usr/bin/atelier-desktop usr/bin/atelier; do
  [ -x "$root/$bin" ] || { echo "the .deb lacks $bin" >&2; exit 1; }
done
"$root/usr/bin/atelier" --version >&2
"$root/usr/bin/atelier" --vault "$work/deb-vault" init >/dev/null
"$root/usr/bin/atelier-desktop" --vault "$work/deb-vault" >"$work/deb-app.log" 2>&1 &
app_pid=$!
headless_pids+=("$app_pid")
window=""
for _ in $(seq 150); do
  window=$(xwininfo -root -tree 2>/dev/null | grep -m1 '"Atelier"' || true)
  [ -n "$window" ] && break
  kill -0 "$app_pid" 2>/dev/null || { echo "the unpacked app exited:" >&2; cat "$work/deb-app.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$window" ] || { echo "no Atelier window appeared" >&2; cat "$work/deb-app.log" >&2; exit 1; }
echo "e2e: the unpacked .deb opened its window:$window" >&2
echo "e2e: passed ($(basename "$deb"); screenshots in $out)" >&2
