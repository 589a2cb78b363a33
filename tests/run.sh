#!/usr/bin/env bash
# Installs everything the tests need, then runs every test: the Rust unit
# tests of all crates and the integration tests against real peers.
# Slow installs are cached outside the clone, under $AIOTEL_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${AIOTEL_CACHE:-$HOME/.cache/aiotel}
VENV="$CACHE/venv"
mkdir -p "$CACHE"

echo "==> Python peers (OpenTelemetry SDK, rotel, pytest) in $VENV"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r tests/python/requirements.txt

echo "==> Rust unit tests"
cargo test --workspace --locked

echo "==> Integration tests"
cargo build --locked --bin aiotel
AIOTEL_BIN="$PWD/target/debug/aiotel" "$VENV/bin/python" -m pytest tests/integration -q -p no:cacheprovider
