#!/usr/bin/env python3
"""Prometheus exporters benchmark, against a real Prometheus server.

remote write: pre-encoded OTLP/gRPC metric requests (SERIES gauge points
each, a new timestamp per request) go into aiotel, whose
`prometheusremotewrite` exporter sends them to Prometheus's remote-write
receiver; the run ends when Prometheus's own
`prometheus_tsdb_head_samples_appended_total` has grown by every sample.
Reports samples/s end to end and aiotel's CPU-seconds per million samples.

pull: the `prometheus` exporter holding SERIES series; the time one scrape
of /metrics takes, the median of 20.

    cargo build --bin aiotel   # or --release, and pass --bin target/release/aiotel
    ~/.cache/aiotel/venv/bin/python benches/prometheus_exporters.py --requests 200 --series 1000
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as svc_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as m
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

ROOT = Path(__file__).resolve().parents[1]
CLK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / CLK


def wait_http(url, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.1)
    raise TimeoutError(url)


def requests(n, series, base_ms):
    out = []
    attrs = [KeyValue(key="series", value=AnyValue(string_value=f"s{i}")) for i in range(series)]
    for r in range(n):
        t = (base_ms + r) * 1_000_000
        pts = [m.NumberDataPoint(attributes=[a], time_unix_nano=t, as_double=float(r)) for a in attrs]
        metric = m.Metric(name="bench.gauge", unit="1", gauge=m.Gauge(data_points=pts))
        rm = m.ResourceMetrics(
            resource=Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="bench"))]),
            scope_metrics=[m.ScopeMetrics(metrics=[metric])],
        )
        out.append(svc.ExportMetricsServiceRequest(resource_metrics=[rm]))
    return out


def appended(prom_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("prometheus_tsdb_head_samples_appended_total"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def start_aiotel(binary, tmp, name, exporter_block):
    grpc_port, health = free_port(), free_port()
    cfg = tmp / f"{name}.yaml"
    cfg.write_text(
        f"""
receivers:
  otlp: {{protocols: {{grpc: {{endpoint: "127.0.0.1:{grpc_port}"}}}}}}
exporters:
{exporter_block}
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check]
  telemetry: {{metrics: {{address: "127.0.0.1:{free_port()}"}}}}
  pipelines:
    metrics: {{receivers: [otlp], exporters: [{name}]}}
"""
    )
    log = open(tmp / f"{name}.log", "wb")
    p = subprocess.Popen([binary, "--config", str(cfg)], stdout=log, stderr=log)
    wait_http(f"http://127.0.0.1:{health}/")
    return p, grpc_port


def remote_write(binary, tmp, n, series):
    prom_port = free_port()
    (tmp / "prom.yml").write_text("global: {scrape_interval: 1h}\nscrape_configs: []\n")
    prom = subprocess.Popen(
        [shutil.which("prometheus"), f"--config.file={tmp / 'prom.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{prom_port}", "--web.enable-remote-write-receiver", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{prom_port}/-/ready")
        block = f"""  prometheusremotewrite:
    endpoint: http://127.0.0.1:{prom_port}/api/v1/write
    remote_write_queue: {{num_consumers: 1, queue_size: 1000}}
    target_info: {{enabled: false}}"""
        aiotel, port = start_aiotel(binary, tmp, "prometheusremotewrite", block)
        try:
            reqs = requests(n, series, int(time.time() * 1000) - n - 10_000)
            stub = svc_grpc.MetricsServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
            before, cpu0, t0 = appended(prom_port), cpu_seconds(aiotel.pid), time.time()
            for r in reqs:
                stub.Export(r, timeout=30)
            want = before + n * series
            while appended(prom_port) < want:
                if time.time() - t0 > 600:
                    raise TimeoutError(f"only {appended(prom_port) - before} of {n * series} samples arrived")
                time.sleep(0.05)
            dt, cpu = time.time() - t0, cpu_seconds(aiotel.pid) - cpu0
            return n * series / dt, cpu / (n * series) * 1e6
        finally:
            aiotel.terminate()
            aiotel.wait()
    finally:
        prom.terminate()
        prom.wait()


def pull(binary, tmp, series):
    port = free_port()
    aiotel, grpc_port = start_aiotel(binary, tmp, "prometheus", f'  prometheus: {{endpoint: "127.0.0.1:{port}"}}')
    try:
        stub = svc_grpc.MetricsServiceStub(grpc.insecure_channel(f"127.0.0.1:{grpc_port}"))
        stub.Export(requests(1, series, int(time.time() * 1000))[0], timeout=30)
        times, size = [], 0
        for _ in range(20):
            t0 = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
                size = len(r.read())
            times.append(time.perf_counter() - t0)
        return statistics.median(times), size
    finally:
        aiotel.terminate()
        aiotel.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target" / "debug" / "aiotel"))
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--pull-series", type=int, default=10_000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiotel-prombench-") as d:
        rate, cpu = remote_write(a.bin, Path(d), a.requests, a.series)
        print(f"remote write: {a.requests * a.series} samples, {rate:,.0f} samples/s end to end, "
              f"aiotel {cpu:.2f} CPU-s per 1M samples")
        t, size = pull(a.bin, Path(d), a.pull_series)
        print(f"pull: scrape of {a.pull_series} series ({size / 1024:.0f} KiB) in {t * 1000:.1f} ms (median of 20)")


if __name__ == "__main__":
    main()
