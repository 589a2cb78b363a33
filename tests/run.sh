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

echo "==> Node peer (fluent-logger for Node.js) in $CACHE/node"
mkdir -p "$CACHE/node"
if ! cmp -s tests/node/package-lock.json "$CACHE/node/package-lock.json" || [ ! -d "$CACHE/node/node_modules/fluent-logger" ]; then
  cp tests/node/package.json tests/node/package-lock.json "$CACHE/node/"
  npm ci --prefix "$CACHE/node" --silent --no-audit --no-fund
fi

echo "==> Debian peers (Prometheus server, node-exporter; cmake and C toolchain for librdkafka)"
DEBS="prometheus prometheus-node-exporter cmake"
# librdkafka (built from source): its cmake build includes curl.h even with curl off (nothing links it).
DEBS="$DEBS libcurl4-openssl-dev zlib1g-dev g++ make"
# unshare and mount (util-linux, on every Debian): a private /etc/hosts for the loadbalancing dns test.
DEBS="$DEBS util-linux mount"
missing=$(for d in $DEBS; do dpkg -s "$d" >/dev/null 2>&1 || echo "$d"; done)
if [ -n "$missing" ]; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi

echo "==> Kafka-protocol broker (tansu), cached in ~/.cargo/bin"
export PATH="$HOME/.cargo/bin:$PATH"
TANSU_VERSION=$(cat tests/tansu-version)
if ! tansu --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
  cargo install tansu --version "$TANSU_VERSION" --locked --no-default-features --features dynostore
fi

echo "==> Rust unit tests"
cargo test --workspace --locked

echo "==> Integration tests"
cargo build --locked --bin aiotel
AIOTEL_BIN="$PWD/target/debug/aiotel" "$VENV/bin/python" -m pytest tests/integration -q -p no:cacheprovider
