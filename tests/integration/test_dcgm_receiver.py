"""The dcgm receiver against a fixture HTTP server serving the DCGM exporter
sample; the same server's vLLM sample goes through the prometheus receiver."""

import http.server
import threading
from pathlib import Path

import pytest
from conftest import read_jsonl, wait_until
from prom_util import attrs, points, value

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GPU0 = "GPU-3f1c9a2e-7b4d-4e21-9c5a-0d8e6f1a2b3c"
GPU1 = "GPU-8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d"
MIB = 1048576


@pytest.fixture
def fixture_server():
    bodies = {"/metrics": (FIXTURES / "dcgm-exporter.prom").read_bytes(),
              "/vllm": (FIXTURES / "vllm-metrics.prom").read_bytes()}
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = bodies.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1], hits
    srv.shutdown()


CONFIG = """
receivers:
  dcgm:
    endpoint: "127.0.0.1:PORT"
    collection_interval: 1s
    initial_delay: 0s
  prometheus:
    config:
      scrape_configs:
        - job_name: vllm
          scrape_interval: 1s
          metrics_path: /vllm
          static_configs: [{targets: ["127.0.0.1:PORT"]}]
exporters:
  file/metrics: {path: METRICS_PATH}
  file/logs: {path: LOGS_PATH}
service:
  pipelines:
    metrics: {receivers: [dcgm, prometheus], exporters: [file/metrics]}
    logs: {receivers: [dcgm], exporters: [file/logs]}
"""


def by_gpu(pts, name, **want):
    out = {}
    for p in pts:
        if p["name"] == name and all(p["attrs"].get(k) == v for k, v in want.items()):
            out.setdefault(p["resource"]["hw.id"], []).append(p)
    return out


def test_dcgm_fixture_maps_to_hardware_conventions(spawn, workdir, fixture_server):
    port, hits = fixture_server
    mout, lout = workdir / "metrics.jsonl", workdir / "logs.jsonl"
    a = spawn("a", CONFIG.replace("PORT", str(port)).replace("METRICS_PATH", str(mout)).replace("LOGS_PATH", str(lout)))
    # Three DCGM scrapes, so the XID log is shown to be sent once, not per scrape.
    wait_until(lambda: len({p["point"]["timeUnixNano"] for p in points(read_jsonl(mout)) if p["name"] == "hw.power"}) >= 3,
               timeout=30, what="three DCGM scrapes")
    pts = [p for p in points(read_jsonl(mout)) if "hw.id" in p["resource"]]
    first = min(int(p["point"]["timeUnixNano"]) for p in pts)
    pts1 = [p for p in pts if int(p["point"]["timeUnixNano"]) == first]

    def one(name, unit, **want):
        got = by_gpu(pts1, name, **want)
        assert set(got) == {GPU0, GPU1}, (name, got.keys())
        assert all(len(v) == 1 and v[0]["unit"] == unit for v in got.values()), name
        return {k: value(v[0]) for k, v in got.items()}, {k: v[0] for k, v in got.items()}

    util, _ = one("hw.gpu.utilization", "1", **{"hw.gpu.task": "general"})
    assert util == {GPU0: 0.87, GPU1: 0.99}
    usage, usage_p = one("hw.gpu.memory.usage", "By")
    assert usage == {GPU0: 71234 * MIB, GPU1: 79573 * MIB}
    assert usage_p[GPU0]["kind"] == "sum" and not usage_p[GPU0]["monotonic"]
    limit, _ = one("hw.gpu.memory.limit", "By")
    assert limit == {GPU0: (9361 + 71234 + 564) * MIB, GPU1: (1022 + 79573 + 564) * MIB}
    power, _ = one("hw.power", "W")
    assert power == {GPU0: 512.337, GPU1: 655.104}
    energy, energy_p = one("hw.energy", "J")
    assert energy == {GPU0: 918273645.512, GPU1: 1204419837.001}
    assert energy_p[GPU1]["kind"] == "sum" and energy_p[GPU1]["monotonic"] and energy_p[GPU1]["temporality"] == 2
    temp, _ = one("hw.temperature", "Cel")
    assert temp == {GPU0: 63, GPU1: 71}

    # GPU identity is on the resource, not on the points.
    res = {p["resource"]["hw.id"]: p["resource"] for p in pts1}
    assert res[GPU1]["hw.model"] == "NVIDIA H100 80GB HBM3"
    assert res[GPU1]["hw.type"] == "gpu"
    assert res[GPU1]["host.name"] == "gpu-node-07"
    assert (res[GPU1]["k8s.pod.name"], res[GPU1]["k8s.namespace.name"], res[GPU1]["k8s.container.name"]) == \
        ("finetune-job-5x2kq", "training", "trainer")
    assert (res[GPU0]["k8s.pod.name"], res[GPU0]["k8s.namespace.name"]) == ("vllm-llama-0", "inference")
    assert all("UUID" not in p["attrs"] and "modelName" not in p["attrs"] for p in pts1)

    # Unmapped DCGM series pass through; the blank sentinel is dropped.
    sm, _ = one("DCGM_FI_DEV_SM_CLOCK", "")
    assert sm == {GPU0: 1980, GPU1: 1755}
    names = {p["name"] for p in pts}
    assert "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL" not in names
    assert not [p for p in pts if (value(p) or 0) > 1e18]
    assert "DCGM_FI_DEV_GPU_UTIL" not in names and "DCGM_FI_DEV_FB_USED" not in names

    # Exactly one ERROR record, for XID 79 on the second GPU, across all scrapes.
    records = []
    for line in read_jsonl(lout):
        for rl in line["resourceLogs"]:
            for sl in rl["scopeLogs"]:
                for r in sl["logRecords"]:
                    records.append((attrs(rl["resource"]["attributes"]), r))
    assert len(records) == 1, records
    res_attrs, rec = records[0]
    assert res_attrs["hw.id"] == GPU1
    assert rec["severityText"] == "ERROR" and rec["severityNumber"] in (17, "SEVERITY_NUMBER_ERROR")
    ra = attrs(rec["attributes"])
    assert int(ra["hw.gpu.xid"]) == 79
    assert ra["hw.gpu.xid.message"] == "GPU has fallen off the bus"
    assert ra["hw.gpu.index"] == "1"
    assert "79" in rec["body"]["stringValue"] and "fallen off the bus" in rec["body"]["stringValue"]
    assert a.metric_sum("aiotel_receiver_accepted_log_records_total", receiver="dcgm") == 1

    # The vLLM sample through the prometheus receiver: types survive.
    vllm = [p for p in points(read_jsonl(mout)) if p["resource"].get("service.name") == "vllm"]
    ttft = [p for p in vllm if p["name"] == "vllm:time_to_first_token_seconds"]
    assert ttft and ttft[0]["kind"] == "histogram"
    h = ttft[0]["point"]
    assert int(h["count"]) == 5520 and float(h["sum"]) == 339.8124
    assert [float(b) for b in h["explicitBounds"]] == [0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1.0, 2.5]
    assert [int(c) for c in h["bucketCounts"]] == [41, 347, 1519, 1403, 792, 518, 681, 165, 45, 8, 1]
    running = [p for p in vllm if p["name"] == "vllm:num_requests_running"]
    assert running and running[0]["kind"] == "gauge" and value(running[0]) == 14.0
    ok = [p for p in vllm if p["name"] == "vllm:request_success_total" and p["attrs"].get("finished_reason") == "stop"]
    assert ok and ok[0]["kind"] == "sum" and ok[0]["monotonic"] and value(ok[0]) == 5121.0
    assert "/metrics" in hits and "/vllm" in hits
    # Shutdown stops the scrape loops promptly and cleanly.
    assert a.stop(timeout=15) == 0


def test_dcgm_survives_a_malformed_page(spawn, workdir):
    """A broken page fails that scrape with a logged reason; the next good page is mapped as usual."""
    good = (FIXTURES / "dcgm-exporter.prom").read_bytes()
    served = []

    class Flaky(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            # First a truncated page (cut inside a label value), then the real one.
            body = good[:good.index(b"GPU-8a2b")] if not served else good
            served.append(len(body))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    mout, lout = workdir / "metrics.jsonl", workdir / "logs.jsonl"
    try:
        a = spawn("a", f"""
receivers:
  dcgm: {{endpoint: "http://127.0.0.1:{srv.server_address[1]}/metrics", collection_interval: 1s, initial_delay: 0s,
          pass_through_unmapped: false}}
exporters:
  file/metrics: {{path: {mout}}}
  file/logs: {{path: {lout}}}
service:
  pipelines:
    metrics: {{receivers: [dcgm], exporters: [file/metrics]}}
    logs: {{receivers: [dcgm], exporters: [file/logs]}}
""")
        wait_until(lambda: [p for p in points(read_jsonl(mout)) if p["name"] == "hw.power"], what="the good page")
        assert "DCGM scrape failed" in a.logs() and "unterminated label value" in a.logs()
        assert len(served) >= 2 and served[0] < served[1]
        names = {p["name"] for p in points(read_jsonl(mout))}
        assert names == {"hw.gpu.utilization", "hw.gpu.memory.usage", "hw.gpu.memory.limit", "hw.power", "hw.energy",
                         "hw.temperature"}, "pass_through_unmapped: false keeps only the mapped series"
        wait_until(lambda: read_jsonl(lout), what="the XID record")
        assert a.proc.poll() is None
    finally:
        srv.shutdown()
