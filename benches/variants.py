"""Shared driver for benchmarks that compare aiotel configs in the same run:
OTLP gRPC in -> (config under test) -> counting sink, variants alternating
round by round. Each variant is a function (tmp_dir, port, sink_port) ->
config text. Reports spans/s, CPU-seconds per million spans and peak RSS of
aiotel, and each variant's CPU per span against the baseline.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from forwarding import ROOT, cpu_seconds, free_port, peak_rss_mib, wait_port


def run_once(bins, config, spans, batch, concurrency):
    with tempfile.TemporaryDirectory(dir=ROOT / "target") as tmp:
        port, sink_port = free_port(), free_port()
        sink = subprocess.Popen([str(bins / "sink"), "--listen", f"127.0.0.1:{sink_port}", "--expect", str(spans)],
                                stdout=subprocess.PIPE, text=True)
        fwd = None
        try:
            wait_port(sink_port)
            cfg = Path(tmp) / "aiotel.yaml"
            cfg.write_text(config(Path(tmp), port, sink_port))
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


def compare(variants, baseline, column, baseline_name):
    """Runs `variants` ({name: config function}) and prints the table and ratios against `baseline`."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=300_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bin-dir", default=str(ROOT / "target" / "release"))
    ap.add_argument("--variants", default=",".join(variants))
    args = ap.parse_args()
    bins = Path(args.bin_dir).resolve()
    names = args.variants.split(",")
    results = {q: [] for q in names}
    for r in range(args.rounds):
        for q in names if r % 2 == 0 else reversed(names):
            res = run_once(bins, variants[q], args.spans, args.batch, args.concurrency)
            results[q].append(res)
            print(f"{q:22} round {r}: {json.dumps(res)}", file=sys.stderr)
    med = {q: {k: statistics.median(x[k] for x in v) for k in v[0]} for q, v in results.items()}
    print(f"\n{args.spans:,} spans, batch {args.batch}, concurrency {args.concurrency}, binaries in {bins.name}")
    print(f"\n| {column} | spans/s | CPU-s / 1M spans | peak RSS (MiB) |")
    print("|---|---|---|---|")
    for q, m in med.items():
        print(f"| {q} | {m['spans_per_s']:,.0f} | {m['cpu_s_per_m']:.2f} | {m['peak_rss_mib']:.1f} |")
    if baseline in med:
        for q in names:
            if q != baseline:
                ratio = statistics.median(x["cpu_s_per_m"] / y["cpu_s_per_m"] for x, y in zip(results[q], results[baseline]))
                print(f"\n{q}: {ratio:.2f}x the CPU per span of {baseline_name} (median of per-round ratios)")
