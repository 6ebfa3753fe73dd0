# Sourced by e2e.sh and bench-desktop.sh: a private X server and tauri-driver for driving the
# real app without a screen. Both are stopped, and $work removed, when the sourcing script exits.
work=$(mktemp -d)
headless_pids=()
headless_cleanup() {
  for pid in "${headless_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap headless_cleanup EXIT

# Starts Xvfb on the first free display and exports DISPLAY.
start_xvfb() {
  local display=99
  while [ -e "/tmp/.X11-unix/X$display" ] || [ -e "/tmp/.X$display-lock" ]; do display=$((display + 1)); done
  Xvfb ":$display" -screen 0 1280x860x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
  headless_pids+=($!)
  export DISPLAY=":$display"
  for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$display" ] && return 0; sleep 0.1; done
  echo "Xvfb did not start:" >&2; cat "$work/xvfb.log" >&2; return 1
}

# Starts tauri-driver on port $1, forwarding to Debian's WebKitWebDriver on port $1 + 1, and
# waits for it.
start_tauri_driver() {
  local port=$1
  tauri-driver --port "$port" --native-port "$((port + 1))" --native-driver "$(command -v WebKitWebDriver)" \
    >"$work/tauri-driver.log" 2>&1 &
  headless_pids+=($!)
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.1; done
  echo "tauri-driver did not start:" >&2; cat "$work/tauri-driver.log" >&2; return 1
}

# WebKitGTK's GPU paths have nothing to talk to under Xvfb.
export WEBKIT_DISABLE_COMPOSITING_MODE=1 WEBKIT_DISABLE_DMABUF_RENDERER=1 LIBGL_ALWAYS_SOFTWARE=1
