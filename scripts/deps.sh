#!/usr/bin/env bash
# Installs the Debian packages mmfree builds against. Idempotent: apt-get skips what is present.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# verilator: the accelerator RTL simulation (hw/); its tests are skipped without it.
# libcpp-httplib-dev: the HTTP server of `mmfree serve` (docs/SERVER.md says why this one).
# python3-jinja2: the independent check of the chat-template fixtures (tests/jinja/); skipped without it.
# With --browser, also chromium (about 300 MB installed) for the chat page's headless-browser test,
# which is skipped without it.
PKGS=(g++ cmake ninja-build pkg-config nlohmann-json3-dev libcli11-dev libsentencepiece-dev libgtest-dev libopenblas-dev libbz2-dev verilator libcpp-httplib-dev python3 python3-jinja2)
if [ "${1:-}" = "--browser" ]; then PKGS+=(chromium); fi
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi
