#!/usr/bin/env python3
"""Kafka export benchmark: OTLP gRPC in -> batch -> kafka exporter -> tansu.

Starts a tansu broker (in-memory storage) and one aiotel per variant, sends a
fixed number of pre-encoded spans with the load generator, and times until the
exporter's self-metrics say every span was acknowledged by the broker.
Reports spans/s and aiotel's CPU-seconds per million spans.

    cargo build -p aiotel -p aiotel-bench            # or --release, then --profile release
    python3 benches/kafka_export.py --spans 200000 --rounds 3
    ~/.cache/aiotel/venv/bin/python benches/kafka_export.py --consume 5000   # the receiver
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLK = os.sysconf("SC_CLK_TCK")

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{port}", max_recv_msg_size_mib: 64}}
processors:
  batch: {{send_batch_size: 8192, timeout: 200ms}}
exporters:
  kafka:
    brokers: ["127.0.0.1:{broker}"]
    traces: {{topic: bench}}
    partition_traces_by_id: {by_id}
    producer: {{compression: {compression}}}
service:
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}, logs: {{level: warn}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [batch], exporters: [kafka]}}
"""

VARIANTS = {
    # name: (partition_traces_by_id, compression). `batch` sends each batch as
    # one message (split at max_message_bytes); `per-trace` keys by trace id,
    # and the generator's spans each have their own trace: one message per span.
    "batch": ("false", "none"),
    "batch-zstd": ("false", "zstd"),
    "per-trace": ("true", "none"),
}


from forwarding import cpu_seconds, free_port, wait_port  # noqa: E402  (benches/ is the script's folder)


def sent_spans(metrics_port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return 0
    total = 0.0
    for line in text.splitlines():
        if line.startswith("aiotel_exporter_sent_spans_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def tansu():
    return shutil.which("tansu") or str(Path.home() / ".cargo" / "bin" / "tansu")


def run_once(bins, variant, spans, batch, concurrency):
    by_id, compression = VARIANTS[variant]
    with tempfile.TemporaryDirectory() as tmp:
        bport, port, mport = free_port(), free_port(), free_port()
        url = f"tcp://127.0.0.1:{bport}"
        broker = subprocess.Popen([tansu(), "broker", "--storage-engine", "memory://tansu/",
                                   "--listener-url", url, "--advertised-listener-url", url],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        fwd = None
        try:
            wait_port(bport)
            subprocess.run([tansu(), "topic", "create", "--broker", url, "--partitions", "4", "bench"],
                           check=True, capture_output=True, timeout=30)
            cfg = Path(tmp) / "aiotel.yaml"
            cfg.write_text(CONFIG.format(port=port, broker=bport, metrics=mport, by_id=by_id,
                                         compression=compression))
            fwd = subprocess.Popen([str(bins / "aiotel"), "--config", str(cfg)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_port(port)
            wait_port(mport)
            time.sleep(0.3)
            cpu0 = cpu_seconds(fwd.pid)
            t0 = time.time()
            subprocess.run([str(bins / "loadgen"), "--endpoint", f"http://127.0.0.1:{port}", "--spans", str(spans),
                            "--batch", str(batch), "--concurrency", str(concurrency)],
                           capture_output=True, text=True, check=True)
            while sent_spans(mport) < spans:
                if time.time() - t0 > 600:
                    raise TimeoutError("spans not all delivered")
                time.sleep(0.05)
            wall = time.time() - t0
            cpu = cpu_seconds(fwd.pid) - cpu0
        finally:
            for p in (fwd, broker):
                if p is not None:
                    p.kill()
                    p.wait()
        return {"spans_per_s": spans / wall, "cpu_s_per_m": cpu / spans * 1e6}


CONSUME_CONFIG = """
receivers:
  kafka: {{brokers: ["127.0.0.1:{broker}"], traces: {{topics: [bench]}}, initial_offset: earliest}}
processors:
  batch: {{}}
exporters:
  file: {{path: /dev/null}}
service:
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}, logs: {{level: warn}}}}
  pipelines:
    traces: {{receivers: [kafka], processors: [batch], exporters: [file]}}
"""


def accepted_spans(metrics_port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return 0
    return int(sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                   if l.startswith("aiotel_receiver_accepted_spans_total{")))


def consume_once(bins, messages, per_message):
    """The receiver's side: messages already in the topic, consumed into /dev/null."""
    from confluent_kafka import Producer  # the test venv has it
    sys.path.insert(0, str(ROOT / "tests" / "integration"))
    from kafka_peer import export_request

    with tempfile.TemporaryDirectory() as tmp:
        bport, mport = free_port(), free_port()
        url = f"tcp://127.0.0.1:{bport}"
        broker = subprocess.Popen([tansu(), "broker", "--storage-engine", "memory://tansu/",
                                   "--listener-url", url, "--advertised-listener-url", url],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        fwd = None
        try:
            wait_port(bport)
            subprocess.run([tansu(), "topic", "create", "--broker", url, "--partitions", "4", "bench"],
                           check=True, capture_output=True, timeout=30)
            p = Producer({"bootstrap.servers": f"127.0.0.1:{bport}", "linger.ms": 20})
            value = export_request([(f"{1:032x}", f"{k:016x}") for k in range(per_message)])
            for i in range(messages):
                p.produce("bench", value=value)
                if i % 1000 == 0:
                    p.poll(0)
            p.flush(60)
            cfg = Path(tmp) / "aiotel.yaml"
            cfg.write_text(CONSUME_CONFIG.format(broker=bport, metrics=mport))
            t0 = time.time()
            fwd = subprocess.Popen([str(bins / "aiotel"), "--config", str(cfg)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            total = messages * per_message
            while accepted_spans(mport) < total:
                if time.time() - t0 > 600:
                    raise TimeoutError("not all consumed")
                time.sleep(0.05)
            wall = time.time() - t0
            cpu = cpu_seconds(fwd.pid)
        finally:
            for proc in (fwd, broker):
                if proc is not None:
                    proc.kill()
                    proc.wait()
        return {"spans_per_s": total / wall, "messages_per_s": messages / wall, "cpu_s_per_m": cpu / total * 1e6}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile", default="debug", choices=["debug", "release"])
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--consume", type=int, default=0, metavar="MESSAGES",
                    help="measure the kafka receiver instead: MESSAGES messages of 100 spans, consumed from the start")
    args = ap.parse_args()
    bins = ROOT / "target" / args.profile
    if args.consume:
        rs = [consume_once(bins, args.consume, 100) for _ in range(args.rounds)]
        for r in rs:
            print(r, file=sys.stderr)
        print(f"\n{args.profile} build, kafka receiver, {args.consume:,} messages of 100 spans, "
              f"medians of {args.rounds} rounds (aiotel start and group join included)\n")
        print("| spans/s | messages/s | aiotel CPU-s / 1M spans |")
        print("|---|---|---|")
        med = lambda k: statistics.median(r[k] for r in rs)
        print(f"| {med('spans_per_s'):,.0f} | {med('messages_per_s'):,.0f} | {med('cpu_s_per_m'):.2f} |")
        return
    variants = args.variants.split(",")
    results = {v: [] for v in variants}
    for r in range(args.rounds):
        for v in variants if r % 2 == 0 else reversed(variants):
            res = run_once(bins, v, args.spans, args.batch, args.concurrency)
            results[v].append(res)
            print(f"{v:24} round {r}: {res}", file=sys.stderr)
    print(f"\n{args.profile} build, {args.spans:,} plain spans, medians of {args.rounds} rounds\n")
    print("| variant | spans/s | aiotel CPU-s / 1M spans |")
    print("|---|---|---|")
    for v, rs in results.items():
        sps = statistics.median(x["spans_per_s"] for x in rs)
        cpu = statistics.median(x["cpu_s_per_m"] for x in rs)
        print(f"| {v} | {sps:,.0f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
