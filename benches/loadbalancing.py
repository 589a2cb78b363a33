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

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from forwarding import ROOT, cpu_seconds, free_port, peak_rss_mib, wait_port  # noqa: E402

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


def run_once(bins, queue, spans, batch, concurrency):
    with tempfile.TemporaryDirectory(dir=ROOT / "target") as tmp:
        port, sink_port = free_port(), free_port()
        sink = subprocess.Popen([str(bins / "sink"), "--listen", f"127.0.0.1:{sink_port}", "--expect", str(spans)],
                                stdout=subprocess.PIPE, text=True)
        fwd = None
        try:
            wait_port(sink_port)
            cfg = Path(tmp) / "aiotel.yaml"
            exporter = QUEUES[queue].format(sink=sink_port)
            cfg.write_text(CONFIG.format(port=port, exporter=exporter, name=queue))
            fwd = subprocess.Popen([str(bins / "aiotel"), "--config", str(cfg)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            wait_port(port)
            time.sleep(0.3)
            cpu0, t0 = cpu_seconds(fwd.pid), time.time()
            subprocess.run([str(bins / "loadgen"), "--endpoint", f"http://127.0.0.1:{port}", "--spans", str(spans),
                            "--batch", str(batch), "--concurrency", str(concurrency), "--shape", "plain"],
                           capture_output=True, text=True, check=True)
            sink.communicate(timeout=300)
            wall, cpu = time.time() - t0, cpu_seconds(fwd.pid) - cpu0
            rss = peak_rss_mib(fwd.pid)
        finally:
            if fwd:
                fwd.kill()
                fwd.wait()
            if sink.poll() is None:
                sink.kill()
        return {"cpu_s_per_m": cpu / spans * 1e6, "spans_per_s": spans / wall, "peak_rss_mib": rss}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=300_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bin-dir", default=str(ROOT / "target" / "release"))
    ap.add_argument("--queues", default=",".join(QUEUES))
    args = ap.parse_args()
    bins = Path(args.bin_dir).resolve()
    queues = args.queues.split(",")
    results = {q: [] for q in queues}
    for r in range(args.rounds):
        for q in queues if r % 2 == 0 else reversed(queues):
            res = run_once(bins, q, args.spans, args.batch, args.concurrency)
            results[q].append(res)
            print(f"{q:22} round {r}: {json.dumps(res)}", file=sys.stderr)
    med = {q: {k: statistics.median(x[k] for x in v) for k in v[0]} for q, v in results.items()}
    print(f"\n{args.spans:,} spans, batch {args.batch}, concurrency {args.concurrency}, binaries in {bins.name}")
    print("\n| exporter | spans/s | CPU-s / 1M spans | peak RSS (MiB) |")
    print("|---|---|---|---|")
    for q, m in med.items():
        print(f"| {q} | {m['spans_per_s']:,.0f} | {m['cpu_s_per_m']:.2f} | {m['peak_rss_mib']:.1f} |")
    if "otlp" in med:
        for q in queues:
            if q != "otlp":
                ratio = statistics.median(x["cpu_s_per_m"] / y["cpu_s_per_m"] for x, y in zip(results[q], results["otlp"]))
                print(f"\n{q}: {ratio:.2f}x the CPU per span of the plain otlp exporter (median of per-round ratios)")


if __name__ == "__main__":
    main()
