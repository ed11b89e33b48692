#!/usr/bin/env bash
# Installs what Taskwright's build and tests need, skipping what is already there.
# Usage: scripts/setup.sh [run|test]   ("test" also installs Chromium, the
# end-to-end packages and the Python tools used by the test suite.)
# Safe to run again: every step checks before it installs.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-run}
CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=0.2.130
BINARYEN_VERSION=132.0.0
UV_VERSION=0.13.8
TOOLS=${TASKWRIGHT_TOOLS_DIR:-$PWD/.tools}

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$TOOLS/npm/bin:$TOOLS/venv/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 13 minutes on 2 cores, once)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes, once)"
  # Not --locked: its lockfile names a crate newer than the registry offers here.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if ! "$TOOLS/npm/bin/wasm-opt" --version 2>/dev/null | grep -q "${BINARYEN_VERSION%%.*}"; then
  say "installing wasm-opt from npm binaryen@$BINARYEN_VERSION (Debian's breaks hydration)"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/npm" -g "binaryen@$BINARYEN_VERSION"
fi

# uv builds the job environments; it lives in a private venv so nothing global changes.
if ! "$TOOLS/venv/bin/uv" --version 2>/dev/null | grep -q "$UV_VERSION"; then
  say "installing uv $UV_VERSION into $TOOLS/venv"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

if [ "$mode" = test ]; then
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v curl >/dev/null 2>&1 || missing+=(curl)   # the examples test runs the README's curl calls
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian's ${missing[*]}"
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ! -d end2end/node_modules ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    say "installing the end-to-end test packages (npm ci)"
    (cd end2end && npm ci --silent --no-audit --no-fund)
  fi
  if ! "$TOOLS/venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
    say "installing the test SMTP server (aiosmtpd) into $TOOLS/venv"
    "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==1.4.6"
  fi
fi
say "tools ready"
