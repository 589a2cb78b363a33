"""The `prometheus` (pull) exporter: a real Prometheus server scrapes it, and
PromQL over its HTTP API returns the counter, gauge and histogram values that
the OpenTelemetry SDK sent over OTLP."""

import subprocess
import time
import urllib.request

import pytest
from conftest import aiotel_bin, free_port, wait_until
from otlp_metrics import ADDS, DURATIONS, GAUGE, median_by_hand, provider, send_all
from prometheus_server import start_prometheus

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
exporters:
  prometheus:
    endpoint: "127.0.0.1:PROM_EXPORTER_PORT"
    const_labels: {cluster: ci}
    metric_expiration: EXPIRATION
service:
  pipelines:
    metrics: {receivers: [otlp], exporters: [prometheus]}
"""


def start(spawn, expiration="5m"):
    grpc, port = free_port(), free_port()
    cfg = CONFIG.replace("GRPC_PORT", str(grpc)).replace("PROM_EXPORTER_PORT", str(port))
    a = spawn("promexp", cfg.replace("EXPIRATION", expiration))
    return a, grpc, port


def scrape(port, accept=None) -> str:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if accept:
        req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.read().decode()


def test_prometheus_scrapes_counter_gauge_and_histogram(spawn, workdir, request):
    a, grpc, port = start(spawn)
    prom = start_prometheus(request, workdir, scrape_targets=[("aiotel", f"127.0.0.1:{port}")])
    send_all(grpc)

    # The exposition itself: Collector names, units as suffixes, job/instance from the resource.
    text = scrape(port)
    assert "# TYPE http_requests_total counter" in text, text
    assert "# HELP http_requests_total Requests served" in text
    assert "# TYPE process_memory_usage_bytes gauge" in text
    assert "# TYPE request_duration_seconds histogram" in text
    assert 'request_duration_seconds_bucket{cluster="ci",instance="inst-1",job="promtest",otel_scope_name="promtest.meter",otel_scope_version="1.0",le="0.5"} 3\n' in text, text

    sel = '{job="promtest",instance="inst-1"}'
    expected_a = sum(n for r, n in ADDS if r == "/a")
    prom.wait_value(f'sum(http_requests_total{{job="promtest",route="/a"}})', expected_a)
    assert prom.value(f'sum(http_requests_total{{job="promtest",route="/b"}})') == 5
    assert prom.value(f"sum(http_requests_total{sel})") == sum(n for _, n in ADDS)
    assert prom.value(f"process_memory_usage_bytes{sel}") == GAUGE
    assert prom.value(f"request_duration_seconds_count{sel}") == len(DURATIONS)
    assert abs(prom.value(f"request_duration_seconds_sum{sel}") - sum(DURATIONS)) < 1e-9
    q = prom.value(f"histogram_quantile(0.5, sum by (le) (request_duration_seconds_bucket{sel}))")
    assert abs(q - median_by_hand()) < 1e-9, q
    assert prom.value(f'request_duration_seconds_bucket{{job="promtest",le="+Inf"}}') == 5
    # Resource attributes that are not job/instance land on target_info; const_labels on everything.
    info = prom.query('target_info{job="promtest"}')
    assert len(info) == 1 and info[0][0]["deployment_environment"] == "test", info
    assert info[0][0]["cluster"] == "ci"
    # Prometheus saw a healthy target.
    assert ("aiotel", "up", "") in prom.targets_health()
    # Prometheus's keep-alive scrape connection does not hold up shutdown.
    t0 = time.time()
    assert a.stop() == 0
    assert time.time() - t0 < 5, time.time() - t0


def test_delta_sums_accumulate_and_series_expire(spawn):
    _, grpc, port = start(spawn, expiration="3s")
    mp = provider(grpc, delta=True)
    counter = mp.get_meter("m").create_counter("jobs.done")
    hist = mp.get_meter("m").create_histogram("request.duration", unit="s")
    counter.add(3)
    hist.record(0.2)
    assert mp.force_flush(10_000)
    counter.add(4)
    hist.record(2.0)
    assert mp.force_flush(10_000)
    text = scrape(port)
    assert 'jobs_done_total{instance="inst-1",job="promtest",otel_scope_name="m"' not in text  # no version label when empty
    line = [l for l in text.splitlines() if l.startswith("jobs_done_total{")]
    assert len(line) == 1 and line[0].endswith(" 7"), text
    assert any(l.startswith("request_duration_seconds_count{") and l.endswith(" 2") for l in text.splitlines()), text
    mp.shutdown()
    # Nothing updates the series any more: gone after metric_expiration.
    wait_until(lambda: "jobs_done_total" not in scrape(port), timeout=15, what="series to expire")
    assert "request_duration_seconds" not in scrape(port)


def test_openmetrics_only_when_enabled(spawn):
    grpc, port = free_port(), free_port()
    cfg = CONFIG.replace("GRPC_PORT", str(grpc)).replace("PROM_EXPORTER_PORT", str(port)).replace("EXPIRATION", "5m")
    spawn("om", cfg.replace("metric_expiration:", "enable_open_metrics: true\n    metric_expiration:"))
    send_all(grpc)
    om = scrape(port, accept="application/openmetrics-text; version=1.0.0")
    assert "# TYPE http_requests counter" in om and om.endswith("# EOF\n"), om
    assert "# UNIT request_duration_seconds seconds" in om
    assert "# EOF" not in scrape(port)


@pytest.mark.parametrize(
    "block,message",
    [
        ("prometheus: {}", "endpoint: missing"),
        ("prometheus: {endpoint: '127.0.0.1:1', tls: {cert_file: /nonexistent.pem, key_file: /x.pem}}", "does not exist"),
        ("prometheus: {endpoint: '127.0.0.1:1', tls: {ca_file: x}}", "unknown field `ca_file`"),
        ("prometheus: {endpoint: '127.0.0.1:1', metric_expiration: soon}", "metric_expiration"),
    ],
)
def test_bad_config_is_refused_clearly(workdir, block, message):
    cfg = workdir / "bad.yaml"
    cfg.write_text(
        "receivers: {otlp: {protocols: {grpc: {endpoint: '127.0.0.1:0'}}}}\n"
        f"exporters:\n  {block}\n"
        "service: {pipelines: {metrics: {receivers: [otlp], exporters: [prometheus]}}}\n"
    )
    r = subprocess.run([aiotel_bin(), "validate", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert message in r.stdout + r.stderr, r.stdout + r.stderr


def test_points_without_a_prometheus_form_are_counted_and_the_rest_served(spawn):
    import time

    from otlp_metrics import malformed_metrics, post_metrics_json

    http, port = free_port(), free_port()
    a = spawn(
        "bad",
        f"""
receivers:
  otlp: {{protocols: {{http: {{endpoint: "127.0.0.1:{http}"}}}}}}
exporters:
  prometheus: {{endpoint: "127.0.0.1:{port}"}}
service:
  pipelines:
    metrics: {{receivers: [otlp], exporters: [prometheus]}}
""",
    )
    assert post_metrics_json(http, malformed_metrics(time.time_ns())) == 200
    text = scrape(port)
    assert 'ok_gauge{job="bad"} 1.5' in text, text
    for absent in ("broken_hist", "exp_hist", "updown", "ok_gauge_bucket"):
        assert absent not in text, text
    wait_until(lambda: a.metric_sum("aiotel_exporter_send_failed_metric_points_total") == 5, what="5 counted")
    assert a.metric_sum("aiotel_exporter_sent_metric_points_total") == 1
    logs = a.logs()
    assert "another type" in logs and "no Prometheus" in logs, logs


def test_prometheus_scrapes_over_https(spawn, workdir, request):
    from test_tls import make_cert

    ca, cert, key = make_cert(workdir)
    grpc, port = free_port(), free_port()
    cfg = CONFIG.replace("GRPC_PORT", str(grpc)).replace("PROM_EXPORTER_PORT", str(port)).replace("EXPIRATION", "5m")
    spawn("tls", cfg.replace("metric_expiration:", f"tls: {{cert_file: {cert}, key_file: {key}}}\n    metric_expiration:"))
    prom = start_prometheus(request, workdir, scrape_targets=[("aiotel", f"127.0.0.1:{port}")], ca_file=ca)
    send_all(grpc)
    prom.wait_value('process_memory_usage_bytes{job="promtest"}', GAUGE)
    assert ("aiotel", "up", "") in prom.targets_health()
    with pytest.raises(Exception):
        scrape(port)  # plain HTTP is not served


def test_namespace_resource_attributes_and_timestamps(spawn):
    grpc, port = free_port(), free_port()
    cfg = CONFIG.replace("GRPC_PORT", str(grpc)).replace("PROM_EXPORTER_PORT", str(port)).replace("EXPIRATION", "5m")
    extra = "namespace: ai\n    send_timestamps: true\n    resource_to_telemetry_conversion: {enabled: true}\n    metric_expiration:"
    spawn("ns", cfg.replace("metric_expiration:", extra))
    before_ms = int(time.time() * 1000)
    send_all(grpc)
    after_ms = int(time.time() * 1000)
    lines = [l for l in scrape(port).splitlines() if l.startswith("ai_process_memory_usage_bytes{")]
    assert len(lines) == 1, lines
    labels, value, ts = lines[0].rsplit(" ", 2)
    assert value == str(GAUGE)
    assert before_ms <= int(ts) <= after_ms
    # Every resource attribute is a label now, sanitised.
    for pair in ('deployment_environment="test"', 'service_name="promtest"', 'service_instance_id="inst-1"', 'job="promtest"'):
        assert pair in labels, labels
    assert "ai_target_info{" in scrape(port)


def test_no_recorded_value_removes_the_series(spawn):
    from otlp_metrics import post_metrics_json

    http, port = free_port(), free_port()
    spawn(
        "stale",
        f"""
receivers:
  otlp: {{protocols: {{http: {{endpoint: "127.0.0.1:{http}"}}}}}}
exporters:
  prometheus: {{endpoint: "127.0.0.1:{port}"}}
service:
  pipelines:
    metrics: {{receivers: [otlp], exporters: [prometheus]}}
""",
    )

    def gauge(t_ns, flags=0):
        p = {"asDouble": 5, "timeUnixNano": str(t_ns), "flags": flags}
        res = {"attributes": [{"key": "service.name", "value": {"stringValue": "st"}}]}
        m = {"name": "temp", "unit": "Cel", "gauge": {"dataPoints": [p]}}
        return {"resourceMetrics": [{"resource": res, "scopeMetrics": [{"metrics": [m]}]}]}

    now = time.time_ns()
    assert post_metrics_json(http, gauge(now - 2_000_000_000)) == 200
    assert 'temp_celsius{job="st"} 5\n' in scrape(port)
    assert post_metrics_json(http, gauge(now - 1_000_000_000, flags=1)) == 200
    assert "temp_celsius" not in scrape(port)
