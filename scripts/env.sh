# Sourced by the scripts: one build directory that survives clean clones, so Kuzu's C++ (about
# 20 minutes on two cores) is built once per machine, not once per checkout.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/atelier/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
