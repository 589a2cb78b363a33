#!/usr/bin/env python3
"""loadbalancing vs plain otlp exporter, same run, alternating rounds:
OTLP gRPC in -> batch -> `otlp` or `loadbalancing` (routing_key traceID,
static resolver with the sink as its one backend, so the cost measured is
the per-span hashing, splitting and the extra hop) -> counting sink.
Reports spans/s and CPU-seconds per million spans of the forwarder.

    cargo build --release -p aiotel -p aiotel-bench
    python3 benches/loadbalancing.py --spans 300000 --rounds 3
    # or with debug binaries: --bin-dir target/debug
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from variants import compare  # noqa: E402

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{port}", max_recv_msg_size_mib: 64}}
processors:
  batch: {{send_batch_size: 8192, timeout: 200ms}}
exporters:
{exporter}
service:
  telemetry: {{metrics: {{level: none}}, logs: {{level: warn}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [batch], exporters: [{name}]}}
"""

QUEUES = {
    "otlp": """  otlp:
    endpoint: 127.0.0.1:{sink}
    tls: {{insecure: true}}
    compression: none""",
    "loadbalancing": """  loadbalancing:
    routing_key: traceID
    protocol: {{otlp: {{tls: {{insecure: true}}, compression: none}}}}
    resolver: {{static: {{hostnames: ['127.0.0.1:{sink}']}}}}""",
}



def variant(name):
    return lambda tmp, port, sink: CONFIG.format(port=port, exporter=QUEUES[name].format(sink=sink), name=name)


if __name__ == "__main__":
    compare({q: variant(q) for q in QUEUES}, "otlp", "exporter", "the plain otlp exporter")
