#!/usr/bin/env python3
"""Kafka gateway tier scaling: 1 -> 2 -> 3 gateways in one consumer group.

A tansu topic of 8 partitions is filled once with whole traces keyed by
trace id (what agents with `partition_traces_by_id` write). For each tier
size, that many gateways (kafka receiver -> token_cost -> tail_sampling ->
file, `acknowledgements: durable`, a fresh group) consume the whole topic.
Reports each run's wall-clock throughput and the CPU-seconds per million
spans, summed over the gateways: on a 2-core machine the wall clock cannot
scale, so flat CPU per span is what shows the tier scales.

    cargo build --release -p aiotel
    ~/.cache/aiotel/venv/bin/python benches/kafka_tier.py --traces 100000 --rounds 3
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from forwarding import cpu_seconds, free_port, wait_port  # noqa: E402  (benches/ is the script's folder)
from kafka_export import tansu  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 8

GATEWAY = """
receivers:
  kafka:
    brokers: ["127.0.0.1:{broker}"]
    traces: {{topics: [tier]}}
    group_id: {group}
    initial_offset: earliest
    session_timeout: 10s
    heartbeat_interval: 1s
processors:
  token_cost: {{}}
  tail_sampling:
    decision_wait: 1s
    policies:
      - {{name: errors, type: status_code, status_code: {{status_codes: [ERROR]}}}}
      - {{name: baseline, type: probabilistic, probabilistic: {{sampling_percentage: 10}}}}
exporters:
  file: {{path: /dev/null}}
service:
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}, logs: {{level: warn}}}}
  pipelines:
    traces: {{receivers: [kafka], processors: [token_cost, tail_sampling], exporters: [file], acknowledgements: durable}}
"""


def scrape(port, prefix):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return 0.0
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith(prefix))


def fill(bootstrap, traces, spans_per_trace):
    """Whole LLM-call traces, one message each, keyed by trace id."""
    from confluent_kafka import Producer
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    # One message per record batch: tansu 0.6.0 serves no fetch that starts
    # inside a batch, which a gateway resuming after a rebalance may need.
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 1,
                  "queue.buffering.max.messages": 1_000_000})
    for t in range(1, traces + 1):
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        a = rs.resource.attributes.add()
        a.key, a.value.string_value = "service.name", "chat"
        ss = rs.scope_spans.add()
        tid = (t * 0x9E3779B97F4A7C15 | 1 << 100).to_bytes(16, "big")
        for k in range(spans_per_trace):
            s = ss.spans.add()
            s.trace_id, s.span_id, s.name = tid, (t << 8 | k).to_bytes(8, "big"), "chat gpt-4o"
            s.start_time_unix_nano = 1_700_000_000_000_000_000 + k
            s.end_time_unix_nano = s.start_time_unix_nano + 500_000_000
            for key, v in (("gen_ai.request.model", "gpt-4o"), ("gen_ai.operation.name", "chat")):
                at = s.attributes.add()
                at.key, at.value.string_value = key, v
            for key, v in (("gen_ai.usage.input_tokens", 1200), ("gen_ai.usage.output_tokens", 300)):
                at = s.attributes.add()
                at.key, at.value.int_value = key, v
        p.produce("tier", key=tid.hex().encode(), value=req.SerializeToString())
        if t % 1000 == 0:
            p.poll(0)
    assert p.flush(120) == 0


def run_tier(bins, broker, n, total_spans, group):
    with tempfile.TemporaryDirectory() as tmp:
        gws = []
        try:
            for i in range(n):
                m = free_port()
                cfg = Path(tmp) / f"gw{i}.yaml"
                cfg.write_text(GATEWAY.format(broker=broker, group=group, metrics=m))
                proc = subprocess.Popen([str(bins / "aiotel"), "--config", str(cfg)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                gws.append((proc, m))
            for _, m in gws:
                wait_port(m)
            accepted = lambda: sum(scrape(m, "aiotel_receiver_accepted_spans_total{") for _, m in gws)
            t0 = time.time()
            first = None
            while True:
                a = accepted()
                if first is None and a > 0:
                    # Start-up and the group join are not what is measured.
                    first = time.time()
                    cpu0 = [cpu_seconds(p.pid) for p, _ in gws]
                if a >= total_spans:
                    break
                if time.time() - t0 > 900:
                    raise TimeoutError(f"consumed {a} of {total_spans}")
                time.sleep(0.05)
            wall = time.time() - first
            # Let the last decision wait pass, so the tail-sampling work is counted too.
            while sum(scrape(m, 'aiotel_processor_stat{processor="tail_sampling",pipeline="traces",stat="traces_buffered"}')
                      for _, m in gws) > 0:
                time.sleep(0.1)
            cpus = [cpu_seconds(p.pid) - c0 for (p, _), c0 in zip(gws, cpu0)]
            shares = [scrape(m, "aiotel_receiver_accepted_spans_total{") / total_spans for _, m in gws]
        finally:
            for p, _ in gws:
                p.kill()
                p.wait()
    return {"spans_per_s": total_spans / wall, "cpu_s_per_m": sum(cpus) / total_spans * 1e6,
            "cpu_per_instance": cpus, "shares": shares}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--spans-per-trace", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--profile", default="release", choices=["debug", "release"])
    ap.add_argument("--max-gateways", type=int, default=3)
    args = ap.parse_args()
    bins = ROOT / "target" / args.profile
    total = args.traces * args.spans_per_trace
    bport = free_port()
    url = f"tcp://127.0.0.1:{bport}"
    broker = subprocess.Popen([tansu(), "broker", "--storage-engine", "memory://tansu/",
                               "--listener-url", url, "--advertised-listener-url", url],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(bport)
        subprocess.run([tansu(), "topic", "create", "--broker", url, "--partitions", str(PARTITIONS), "tier"],
                       check=True, capture_output=True, timeout=30)
        fill(f"127.0.0.1:{bport}", args.traces, args.spans_per_trace)
        sizes = list(range(1, args.max_gateways + 1))
        results = {n: [] for n in sizes}
        for r in range(args.rounds):
            for n in sizes if r % 2 == 0 else reversed(sizes):
                res = run_tier(bins, bport, n, total, f"tier-{n}-{r}")
                results[n].append(res)
                print(f"{n} gateway(s) round {r}: {res}", file=sys.stderr)
    finally:
        broker.kill()
        broker.wait()
    print(f"\n{args.profile} build, {args.traces:,} traces of {args.spans_per_trace} spans in {PARTITIONS} partitions, "
          f"medians of {args.rounds} rounds\n")
    print("| gateways | spans/s (wall) | CPU-s / 1M spans, all gateways | vs 1 gateway | share of spans per gateway |")
    print("|---|---|---|---|---|")
    base = statistics.median(x["cpu_s_per_m"] for x in results[1])
    for n, rs in results.items():
        cpu = statistics.median(x["cpu_s_per_m"] for x in rs)
        sps = statistics.median(x["spans_per_s"] for x in rs)
        shares = "/".join(f"{s:.0%}" for s in rs[-1]["shares"])
        print(f"| {n} | {sps:,.0f} | {cpu:.2f} | {cpu / base:.2f}x | {shares} |")


if __name__ == "__main__":
    main()
