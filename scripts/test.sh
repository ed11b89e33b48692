#!/usr/bin/env bash
# The README's test command (`make test`): installs what is missing, then
# runs every check and prints each runner's summary. Exits non-zero when
# anything failed; later steps still run so one report shows everything.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/.tools/npm/bin:$PWD/.tools/venv/bin:$PATH"
export CARGO_TERM_COLOR=never
scripts/setup.sh test || { echo "set-up failed"; exit 1; }

declare -a results=()
failed=0
step() {
  local name=$1; shift
  local t0=$SECONDS
  echo; echo "=== $name: $*"
  if "$@"; then
    results+=("ok      $name ($((SECONDS - t0)) s)")
  else
    results+=("FAILED  $name ($((SECONDS - t0)) s)")
    failed=1
  fi
}

step "cargo fmt" cargo fmt --all -- --check
step "clippy ssr" cargo clippy -p app -p server --features app/ssr --all-targets -- -D warnings
step "clippy hydrate" cargo clippy -p app -p frontend --features app/hydrate --target wasm32-unknown-unknown -- -D warnings
step "release build" cargo leptos build --release
export TASKWRIGHT_TEST_UV="$PWD/.tools/venv/bin/uv"
export TASKWRIGHT_TEST_SMTPD="$PWD/.tools/venv/bin/python"
step "rust tests" cargo test -p app -p server --features app/ssr -- --test-threads 2
step "examples" .tools/venv/bin/python end2end/examples_test.py
E2E_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export E2E_PORT
step "playwright" bash -c 'cd end2end && npx playwright test'

echo
echo "=== summary"
printf '%s\n' "${results[@]}"
exit $failed
