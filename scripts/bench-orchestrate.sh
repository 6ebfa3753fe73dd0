#!/usr/bin/env bash
# The scheduler benchmark (crates/core/benches/orchestrate.rs): ready-set upkeep per state
# change on a 100,000-task DAG against recomputing the ready set, and tasks per second through
# the scheduler against run_play back to back, on an instant provider stub. Runs under a
# private D-Bus session with an unlocked gnome-keyring (the keychain the runs need).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export XDG_DATA_HOME="$(mktemp -d)"
trap 'rm -rf "$XDG_DATA_HOME"' EXIT
dbus-run-session -- sh -c 'printf test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  exec cargo bench --workspace --locked --bench orchestrate' 2>&1 | grep -v '^dbus-daemon'
