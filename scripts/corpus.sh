# shellcheck shell=bash
# The real text the evaluation and the benchmarks run on: the documentation of Flask 3.1.3 and
# Starlette 1.10.0, from their PyPI source distributions (pinned by sha256, cached under
# ~/.cache/atelier/corpus). Sourced; `corpus_lay_out DIR` puts the pages (.rst and .md only, no
# Sphinx build files or images) under DIR/flask and DIR/starlette.

corpus_fetch() { # name version sha256
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/atelier/corpus"
  local file="$cache/$1-$2.tar.gz"
  mkdir -p "$cache"
  if [ ! -f "$file" ]; then
    echo "Fetching the $1 $2 source distribution from PyPI" >&2
    local dir
    dir="$(mktemp -d)"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
      --no-build-isolation -d "$dir" "$1==$2" >/dev/null 2>&1 ||
      python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: -d "$dir" "$1==$2"
    mv "$dir/$1-$2.tar.gz" "$file.partial"
    rm -rf "$dir"
    mv "$file.partial" "$file"
  fi
  echo "$3  $file" | sha256sum --check --quiet
  printf '%s\n' "$file"
}

corpus_lay_out() { # DIR
  local out="$1" flask starlette unpack
  flask="$(corpus_fetch flask 3.1.3 0ef0e52b8a9cd932855379197dd8f94047b359ca0a78695144304cb45f87c9eb)"
  starlette="$(corpus_fetch starlette 1.10.0 b8399098d4c1e3522734f7235dc79b1fc967f96cf139c81e0fa30479e0685f9b)"
  unpack="$(mktemp -d)"
  tar -xzf "$flask" -C "$unpack" flask-3.1.3/docs
  tar -xzf "$starlette" -C "$unpack" starlette-1.10.0/docs
  mkdir -p "$out"
  mv "$unpack/flask-3.1.3/docs" "$out/flask"
  mv "$unpack/starlette-1.10.0/docs" "$out/starlette"
  rm -rf "$unpack"
  find "$out" -type f ! -name '*.rst' ! -name '*.md' -delete
}
