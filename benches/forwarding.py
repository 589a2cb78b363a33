#!/usr/bin/env python3
"""Forwarding benchmark: OTLP gRPC in -> batch -> OTLP gRPC out -> counting sink.

Runs aiotel and rotel in the same session, alternating, with the same
pre-encoded payloads, and reports CPU-seconds per million spans and peak
RSS of the forwarder. Ratios matter more than absolutes on a shared machine.

    cargo build --release -p aiotel -p aiotel-bench
    python3 benches/forwarding.py --spans 1000000 --rounds 3
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REL = ROOT / "target" / "release"
CLK = os.sysconf("SC_CLK_TCK")

AIOTEL_CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{port}", max_recv_msg_size_mib: 64}}
processors:
  batch: {{send_batch_size: 8192, timeout: 200ms, flush_when_idle: {idle}}}
  redaction: {{allow_all_keys: true}}
  token_cost: {{}}
exporters:
  otlp:
    endpoint: 127.0.0.1:{sink}
    tls: {{insecure: true}}
    compression: {compression}
    compression_params: {{level: {level}}}
service:
  telemetry: {{metrics: {{level: none}}, logs: {{level: warn}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [{processors}], exporters: [otlp]}}
"""


# The whole AI pipeline: redaction -> token_cost -> spanmetrics + tail_sampling -> OTLP.
# tail_sampling keeps every trace here (always_sample after the AI policies), so
# the sink sees every span and the measured cost includes exporting all of them.
FULL_CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{port}", max_recv_msg_size_mib: 64}}
processors:
  redaction: {{allow_all_keys: true}}
  token_cost: {{}}
  tail_sampling:
    decision_wait: 2s
    policies:
      - {{name: big-spenders, type: genai_cost, genai_cost: {{min_cost: 1.0}}}}
      - {{name: token-hogs, type: genai_tokens, genai_tokens: {{min_tokens: 100000}}}}
      - {{name: llm-errors, type: genai_error, genai_error: {{error_types: []}}}}
      - {{name: hallucinations, type: genai_evaluation, genai_evaluation: {{name: hallucination, min_score: 0.5}}}}
      - {{name: runaway-agents, type: genai_loop, genai_loop: {{max_llm_calls: 25, max_same_tool_calls: 10}}}}
      - {{name: everything, type: always_sample}}
  batch: {{send_batch_size: 8192, timeout: 200ms}}
connectors:
  spanmetrics: {{metrics_flush_interval: 5s}}
  forward/sample: {{}}
exporters:
  otlp:
    endpoint: 127.0.0.1:{sink}
    tls: {{insecure: true}}
    compression: {compression}
  file/metrics: {{path: /dev/null}}
service:
  telemetry: {{metrics: {{level: none}}, logs: {{level: warn}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [redaction, token_cost], exporters: [spanmetrics, forward/sample]}}
    traces/sampled: {{receivers: [forward/sample], processors: [tail_sampling, batch], exporters: [otlp]}}
    metrics: {{receivers: [spanmetrics], exporters: [file/metrics]}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} never opened")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def rotel_bin():
    found = shutil.which("rotel-agent")
    if found:
        return found
    venv = Path(os.environ.get("AIOTEL_CACHE", Path.home() / ".cache" / "aiotel")) / "venv"
    for p in venv.glob("lib/python*/site-packages/rotel/rotel-agent"):
        return str(p)
    sys.exit("rotel-agent not found: pip install rotel")


def start_forwarder(kind, port, sink, compression, processors, tmp, wrap=()):
    if kind == "aiotel" and processors == "full":
        cfg = Path(tmp) / "aiotel.yaml"
        cfg.write_text(FULL_CONFIG.format(port=port, sink=sink, compression=compression))
        cmd = [str(REL / "aiotel"), "--config", str(cfg)]
    elif kind == "aiotel":
        cfg = Path(tmp) / "aiotel.yaml"
        cfg.write_text(AIOTEL_CONFIG.format(port=port, sink=sink, compression=compression, processors=processors,
                                            idle=os.environ.get("AIOTEL_FLUSH_WHEN_IDLE", "true"),
                                            level=os.environ.get("AIOTEL_GZIP_LEVEL", "6")))
        cmd = [str(REL / "aiotel"), "--config", str(cfg)]
    else:
        cmd = [
            rotel_bin(), "start",
            "--otlp-grpc-endpoint", f"127.0.0.1:{port}",
            "--otlp-http-endpoint", f"127.0.0.1:{free_port()}",
            "--exporter", "otlp",
            "--otlp-exporter-endpoint", f"http://127.0.0.1:{sink}",
            "--otlp-exporter-compression", compression,
            "--batch-max-size", "8192", "--batch-timeout", "200ms",
        ]
    return subprocess.Popen([*wrap, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_once(kind, shape, spans, batch, concurrency, compression, processors="batch"):
    with tempfile.TemporaryDirectory() as tmp:
        port, sink_port = free_port(), free_port()
        sink = subprocess.Popen([str(REL / "sink"), "--listen", f"127.0.0.1:{sink_port}", "--expect", str(spans)],
                                stdout=subprocess.PIPE, text=True)
        wait_port(sink_port)
        fwd = start_forwarder(kind, port, sink_port, compression, processors, tmp)
        try:
            wait_port(port)
            time.sleep(0.3)
            cpu0 = cpu_seconds(fwd.pid)
            t0 = time.time()
            gen = subprocess.run([str(REL / "loadgen"), "--endpoint", f"http://127.0.0.1:{port}", "--spans", str(spans),
                                  "--batch", str(batch), "--concurrency", str(concurrency), "--shape", shape],
                                 capture_output=True, text=True, check=True)
            out, _ = sink.communicate(timeout=600)
            wall = time.time() - t0
            cpu = cpu_seconds(fwd.pid) - cpu0
            rss = peak_rss_mib(fwd.pid)
        finally:
            fwd.kill()
            fwd.wait()
            if sink.poll() is None:
                sink.kill()
        gen_stats = json.loads(gen.stdout)
        return {
            "cpu_s_per_m": cpu / spans * 1e6,
            "peak_rss_mib": rss,
            "spans_per_s": spans / wall,
            "request_bytes": gen_stats["request_bytes"],
            "retries": gen_stats["retries"],
        }


def callgrind_once(spans, batch, concurrency, compression, processors):
    """Instructions the forwarder executes while it handles `spans` spans.

    Counted by callgrind, so the figure repeats run after run whatever else
    the machine is doing; start-up (config, regex compilation) is excluded.
    """
    with tempfile.TemporaryDirectory() as tmp:
        port, sink_port = free_port(), free_port()
        sink = subprocess.Popen([str(REL / "sink"), "--listen", f"127.0.0.1:{sink_port}", "--expect", str(spans)],
                                stdout=subprocess.PIPE, text=True)
        wait_port(sink_port)
        out_file = Path(tmp) / "callgrind.out"
        wrap = ("valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_file}")
        fwd = start_forwarder("aiotel", port, sink_port, compression, processors, tmp, wrap)
        try:
            wait_port(port, timeout=120)
            time.sleep(1)
            subprocess.run(["callgrind_control", "-i", "on", str(fwd.pid)], check=True, capture_output=True)
            subprocess.run([str(REL / "loadgen"), "--endpoint", f"http://127.0.0.1:{port}", "--spans", str(spans),
                            "--batch", str(batch), "--concurrency", str(concurrency), "--shape", "genai"],
                           capture_output=True, text=True, check=True)
            sink.communicate(timeout=1200)
            fwd.terminate()
            fwd.wait(timeout=300)
        finally:
            if fwd.poll() is None:
                fwd.kill()
            if sink.poll() is None:
                sink.kill()
        total = 0
        for f in Path(tmp).glob("callgrind.out*"):
            for line in f.read_text().splitlines():
                if line.startswith("totals:") or line.startswith("summary:"):
                    total = max(total, int(line.split()[1]))
        return total


def ai_instructions(args):
    """The `--ai` comparison in instructions per span instead of CPU-seconds."""
    pipelines = {"forward": "batch", "ai": "redaction, token_cost, batch", "full": "full"}
    per_span = {}
    for name, procs in pipelines.items():
        per_span[name] = callgrind_once(args.genai_spans, args.batch, args.concurrency, args.compression, procs) / args.genai_spans
        print(f"genai {name:8}: {per_span[name]:,.0f} instructions per span", file=sys.stderr)
    print("\n| pipeline | processors | instructions per span |")
    print("|---|---|---|")
    for k, v in per_span.items():
        print(f"| {k} | {pipelines[k]} | {v:,.0f} |")
    print(f"\nredaction + token_cost add {(per_span['ai'] / per_span['forward'] - 1) * 100:.1f}% instructions per span over plain forwarding")
    print(f"the whole AI pipeline runs at {per_span['forward'] / per_span['full'] * 100:.0f}% of plain forwarding's throughput per instruction")


def ai_overhead(args):
    """CPU per span of `redaction, token_cost, batch` against `batch` alone, same run, GenAI spans."""
    pipelines = {"forward": "batch", "ai": "redaction, token_cost, batch", "full": "full"}
    results = {k: [] for k in pipelines}
    for r in range(args.rounds):
        for name in pipelines if r % 2 == 0 else reversed(list(pipelines)):
            res = run_once("aiotel", "genai", args.genai_spans, args.batch, args.concurrency, args.compression,
                           processors=pipelines[name])
            results[name].append(res)
            print(f"genai {name:8} round {r}: {res}", file=sys.stderr)
    med = {k: {m: statistics.median(x[m] for x in v) for m in v[0]} for k, v in results.items()}
    print("\n| pipeline | processors | CPU-s / 1M spans | peak RSS (MiB) | spans/s |")
    print("|---|---|---|---|---|")
    for k, m in med.items():
        print(f"| {k} | {pipelines[k]} | {m['cpu_s_per_m']:.2f} | {m['peak_rss_mib']:.1f} | {m['spans_per_s']:,.0f} |")
    # Ratios within each round, then their median: rounds share the machine's mood.
    ratio = lambda a, b: statistics.median(x["cpu_s_per_m"] / y["cpu_s_per_m"] for x, y in zip(results[a], results[b]))
    extra = ratio("ai", "forward") - 1
    print(f"\nredaction + token_cost add {extra * 100:.1f}% CPU per span over plain forwarding (median of per-round ratios)")
    per_core = 1 / ratio("full", "forward")
    print(f"the whole AI pipeline runs at {per_core * 100:.0f}% of plain forwarding's throughput per core")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--genai-spans", type=int, default=300_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--compression", default="gzip")
    ap.add_argument("--targets", default="aiotel,rotel")
    ap.add_argument("--ai", action="store_true",
                    help="compare aiotel's plain forwarding with redaction + token_cost on GenAI spans, instead of rotel")
    ap.add_argument("--instructions", action="store_true",
                    help="with --ai: count instructions under callgrind (repeatable on a noisy machine) instead of CPU time")
    args = ap.parse_args()
    if args.ai and args.instructions:
        return ai_instructions(args)
    if args.ai:
        return ai_overhead(args)
    targets = args.targets.split(",")
    rows = []
    for shape, n in (("plain", args.spans), ("genai", args.genai_spans)):
        results = {t: [] for t in targets}
        for r in range(args.rounds):
            for t in targets if r % 2 == 0 else reversed(targets):
                res = run_once(t, shape, n, args.batch, args.concurrency, args.compression)
                results[t].append(res)
                print(f"{shape:6} {t:7} round {r}: {res}", file=sys.stderr)
        med = {t: {k: statistics.median(x[k] for x in v) for k in v[0]} for t, v in results.items()}
        rows.append((shape, n, med))
    print(f"\n| payload | spans | forwarder | CPU-s / 1M spans | peak RSS (MiB) | spans/s | request bytes |")
    print("|---|---|---|---|---|---|---|")
    for shape, n, med in rows:
        for t, m in med.items():
            print(f"| {shape} | {n:,} | {t} | {m['cpu_s_per_m']:.2f} | {m['peak_rss_mib']:.1f} | {m['spans_per_s']:,.0f} | {m['request_bytes']:,} |")
    if "aiotel" in targets and "rotel" in targets:
        print("\n| payload | CPU ratio aiotel/rotel | peak RSS ratio aiotel/rotel |")
        print("|---|---|---|")
        for shape, n, med in rows:
            a, r = med["aiotel"], med["rotel"]
            print(f"| {shape} | {a['cpu_s_per_m'] / r['cpu_s_per_m']:.2f} | {a['peak_rss_mib'] / r['peak_rss_mib']:.2f} |")


if __name__ == "__main__":
    main()
