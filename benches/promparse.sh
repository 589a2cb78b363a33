#!/usr/bin/env bash
# Prometheus scrape parse speed: a generated node-exporter-shaped page and a
# page captured from the local prometheus-node-exporter (all default collectors).
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-debug}
cargo build ${CARGO_FLAGS:-} -p aiotel-bench --bin promparse
BIN=target/$PROFILE/promparse
TMP=$(mktemp -d)
trap 'kill $NE 2>/dev/null || true; rm -rf "$TMP"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/prometheus-node-exporter --web.listen-address=127.0.0.1:$PORT >"$TMP/ne.log" 2>&1 &
NE=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/metrics" >"$TMP/node.prom" && break; sleep 0.1; done
echo "== generated, 64 CPUs"; $BIN --cpus 64 --seconds "${SECONDS_PER_RUN:-5}"
echo "== generated, 512 CPUs"; $BIN --cpus 512 --seconds "${SECONDS_PER_RUN:-5}"
echo "== captured from prometheus-node-exporter"; $BIN --file "$TMP/node.prom" --seconds "${SECONDS_PER_RUN:-5}"
