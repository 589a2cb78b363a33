#!/usr/bin/env python3
"""Persistent vs in-memory sending queue, same run, alternating rounds:
OTLP gRPC in -> batch -> OTLP gRPC out (sending_queue in memory, or a
write-ahead log on disk) -> counting sink. Reports spans/s and CPU-seconds
per million spans of the forwarder.

    cargo build --release -p aiotel -p aiotel-bench
    python3 benches/persistent_queue.py --spans 300000 --rounds 3
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
  otlp:
    endpoint: 127.0.0.1:{sink}
    tls: {{insecure: true}}
    compression: none
    sending_queue: {queue}
service:
  telemetry: {{metrics: {{level: none}}, logs: {{level: warn}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [batch], exporters: [otlp]}}
"""

QUEUES = {
    "memory": "{{}}",
    "persistent": "{{persistent: {{directory: {dir}, fsync_interval: 1s, max_size_mib: 2048}}}}",
    "persistent-fsync-each": "{{persistent: {{directory: {dir}, fsync_interval: 0s, max_size_mib: 2048}}}}",
}



def variant(queue):
    return lambda tmp, port, sink: CONFIG.format(port=port, sink=sink, queue=QUEUES[queue].format(dir=tmp / "queue"))


if __name__ == "__main__":
    compare({q: variant(q) for q in QUEUES}, "memory", "sending_queue", "the in-memory queue")
