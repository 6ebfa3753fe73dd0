#!/usr/bin/env bash
# Runs every check CI runs: the lock-file pins, formatting, lints, the Rust tests (with the
# generated-bindings check), the workbench's type check and component tests, a small run of the
# graph benchmark so it cannot rot, the search-quality evaluation on real text, and the desktop
# end-to-end run on the release build.
# Installs missing system packages, npm packages and test tools first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
source scripts/env.sh

# Kuzu 0.11.3 pins cxx =1.0.138 but not cxx-build; a newer cxx-build fails at link time.
cxx_build=$(awk '/^name = "cxx-build"/{getline; print $3}' Cargo.lock | tr -d '"')
if [ "$cxx_build" != "1.0.138" ]; then
  echo "Cargo.lock has cxx-build $cxx_build; run: cargo update -p cxx-build --precise 1.0.138" >&2
  exit 1
fi

step() { printf '\n== %s\n' "$*"; }
step "cargo fmt --check"
cargo fmt --all --check
# The desktop crate embeds ui/dist when built with its custom-protocol feature (clippy's
# --all-features does), so the workbench is built first; `tsc` is its type check.
step "workbench: type check and build"
npm run --silent build:ui
# Everything builds in the release profile, the one the app ships with: the dependencies
# (Qdrant Edge alone is 180,000 lines) are compiled once for tests, benchmarks and the
# installer instead of once per profile, and Kuzu's build script runs once (clippy shares it).
# Always `--workspace`: selecting one package resolves other features and rebuilds its deps.
step "cargo clippy"
cargo clippy --workspace --all-targets --all-features --locked --release -- -D warnings
step "graph benchmark (smoke run, 2,000 tasks)"
ATELIER_BENCH_TASKS=2000 cargo bench --locked --workspace --bench graph
# Provider keys live only in the OS keychain, so the tests use a real Secret Service: a private
# D-Bus session with GNOME Keyring unlocked, its keyrings in a throwaway directory (never the
# keyring of the person running this).
step "cargo test (in a private D-Bus session with GNOME Keyring)"
log=$(mktemp)
keyrings=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$keyrings"' EXIT
# The opt-in live-provider test runs a second time with its output shown, so a run without a
# provider key in the environment says plainly that the live test was skipped.
XDG_DATA_HOME="$keyrings" dbus-run-session -- bash -c \
  'set -o pipefail
   printf test | gnome-keyring-daemon --unlock --components=secrets >/dev/null &&
   cargo test --workspace --locked --release &&
   cargo test --workspace --locked --release --test core live_provider -- --nocapture 2>&1 |
     grep -E "^live |panicked|FAILED"' 2>&1 | grep --line-buffered -v '^dbus-daemon\[' | tee "$log"
# A benchmark, not a test: the figures are printed for the reader and the closing note, and
# no threshold is asserted (a regression shows in the numbers).
step "search quality on real text (labelled questions, modes beside naive baselines)"
bash scripts/eval-search.sh
step "workbench component tests"
NO_COLOR=1 npm run --silent test:ui 2>&1 | tee -a "$log"
step "desktop end to end"
npm run --silent e2e
# cargo prints one summary per test binary (the last often an empty doc-test run) and Vitest one
# "Tests" line; close with the total so the outcome reads at a glance (the end-to-end run above
# prints its own verdict).
awk '/^test result:|^ *Tests +[0-9]/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "\ntests: %d passed, %d failed\n", p, f }' "$log"
