# Sourced by the scripts: one build directory that survives clean clones, so Kuzu's C++ (about
# 45 minutes on two cores) is built once per machine, not once per checkout.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/atelier/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Every script builds the one `release` profile on the whole workspace, so Kuzu's cmake build
# normally runs once. ccache covers the times it runs again (a cleaned target dir, a changed
# build-script input); CCACHE_BASEDIR makes build directories at other paths compare equal.
if command -v ccache >/dev/null 2>&1; then
  export CMAKE_C_COMPILER_LAUNCHER=ccache
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/atelier/ccache}"
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$HOME}"
  export CCACHE_NOHASHDIR=1
  export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-4G}"
fi
