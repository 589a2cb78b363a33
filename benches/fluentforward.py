#!/usr/bin/env python3
"""Fluent forward benchmark: records/s per core of aiotel's fluentforward receiver.

Payload: what Fluent Bit 5 sends with its defaults: Forward mode
(`[tag, [entries], {"size": n}]`), entries in the `[[EventTime, {}], record]`
form (`retain_metadata_in_forward_mode` is on by default since 5.0.5),
records shaped like the tail input's (`{"log": "<line>"}`), no compression,
and no acks (`require_ack_response` is off by default). `--ack` adds the
`chunk` option and waits for every ack, as `require_ack_response: on` does.

Messages are encoded once and sent over several connections from threads
(sendall releases the GIL, so the generator costs little CPU). aiotel runs
`fluentforward -> debug (basic)`; the run ends when aiotel's self-metrics
count every record accepted. CPU is aiotel's utime+stime from /proc/PID/stat.

    cargo build -p aiotel --bin aiotel      # or --release
    python3 benches/fluentforward.py --records 2000000 [--bin target/release/aiotel] [--ack]
"""

import argparse
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLK = os.sysconf("SC_CLK_TCK")
sys.path.insert(0, str(ROOT / "tests" / "integration"))

CONFIG = """
receivers:
  fluentforward: {{endpoint: "127.0.0.1:{port}", heartbeat: false}}
exporters:
  debug: {{verbosity: basic}}
service:
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}, logs: {{level: warn}}}}
  pipelines:
    logs: {{receivers: [fluentforward], exporters: [debug]}}
"""

LINE = ("2026-01-01T00:00:00.{i:06d}Z INFO  [http-nio-8080-exec-{t}] c.e.api.ItemsController : "
        "GET /api/v1/items?page={i} status=200 duration_ms={d} user=u{u} trace=4bf92f3577b34da6a3ce929d0e0e4736")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def accepted(metrics_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("aiotel_receiver_accepted_log_records_total{") and 'receiver="fluentforward"' in line:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def messages(per_message, distinct, chunk):
    """`distinct` pre-encoded Forward-mode messages of `per_message` records each."""
    import msgpack

    out = []
    now = int(time.time())
    for m in range(distinct):
        entries = []
        for i in range(per_message):
            t = msgpack.ExtType(0, struct.pack(">II", now, (m * per_message + i) % 10**9))
            line = LINE.format(i=i, t=i % 200, d=i % 97, u=i % 1000)
            entries.append([[t, {}], {"log": line}])
        opts = {"size": per_message}
        if chunk:
            opts["chunk"] = f"c{m}"
        out.append(msgpack.packb(["kube.var.log.containers.app", entries, opts]))
    return out


def sender(port, payloads, count, ack, errors):
    try:
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for k in range(count):
                s.sendall(payloads[k % len(payloads)])
                if ack:
                    # An ack is a 1-entry map: small enough to arrive in one read.
                    if not s.recv(256):
                        raise EOFError("closed before the ack")
    except Exception as e:  # noqa: BLE001 - reported by the main thread
        errors.append(e)


def run(args):
    port, metrics = free_port(), free_port()
    per_conn = args.records // (args.per_message * args.connections)
    total = per_conn * args.per_message * args.connections
    payloads = messages(args.per_message, 8, args.ack)
    size = sum(len(p) for p in payloads) / len(payloads)
    with tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "ff.yaml"
        cfg.write_text(CONFIG.format(port=port, metrics=metrics))
        proc = subprocess.Popen([args.bin, "--config", str(cfg)], stdout=subprocess.DEVNULL,
                                stderr=open(Path(d) / "log", "wb"))
        try:
            deadline = time.time() + 30
            while True:
                try:
                    accepted(metrics)
                    break
                except OSError:
                    if time.time() > deadline or proc.poll() is not None:
                        raise RuntimeError((Path(d) / "log").read_text())
                    time.sleep(0.1)
            cpu0, t0 = cpu_seconds(proc.pid), time.time()
            errors = []
            threads = [threading.Thread(target=sender, args=(port, payloads, per_conn, args.ack, errors))
                       for _ in range(args.connections)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if errors:
                raise RuntimeError(errors[0])
            while accepted(metrics) < total:
                if time.time() - t0 > args.timeout:
                    raise RuntimeError(f"only {accepted(metrics):.0f} of {total} records accepted")
                time.sleep(0.02)
            wall, cpu = time.time() - t0, cpu_seconds(proc.pid) - cpu0
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    print(f"records={total} per_message={args.per_message} message_bytes={size:.0f} "
          f"connections={args.connections} ack={args.ack}")
    print(f"wall_s={wall:.2f} records_per_s={total / wall:,.0f} aiotel_cpu_s={cpu:.2f} "
          f"records_per_cpu_s={total / cpu:,.0f} cpu_us_per_record={cpu / total * 1e6:.2f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=str(ROOT / "target" / "debug" / "aiotel"))
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--per-message", type=int, default=1000)
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--ack", action="store_true", help="send the chunk option and wait for each ack")
    p.add_argument("--timeout", type=float, default=600)
    run(p.parse_args())


if __name__ == "__main__":
    main()
