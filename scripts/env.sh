# Sourced by the scripts: one build directory that survives clean clones, so Kuzu's C++ (about
# 20 minutes on two cores) is built once per machine, not once per checkout.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/atelier/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Kuzu is compiled by cmake once per cargo profile: tests use `dev`, the desktop bundle uses
# `release`, with the same optimisation flags. ccache lets the second profile reuse the first
# one's objects; CCACHE_BASEDIR makes the two build directories' paths compare equal.
if command -v ccache >/dev/null 2>&1; then
  export CMAKE_C_COMPILER_LAUNCHER=ccache
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/atelier/ccache}"
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$HOME}"
  export CCACHE_NOHASHDIR=1
  export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-4G}"
fi
