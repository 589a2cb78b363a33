"""The `prometheusremotewrite` exporter against a real Prometheus server with
its remote-write receiver on: PromQL returns the counter, gauge and histogram
values the OpenTelemetry SDK sent over OTLP; an unreachable endpoint is
retried until it comes up; a 4xx is a counted permanent failure."""

from conftest import free_port, wait_until
from otlp_metrics import ADDS, DURATIONS, GAUGE, median_by_hand, provider, send_all
from prometheus_server import Prometheus, start_prometheus

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
exporters:
  prometheusremotewrite:
    endpoint: "ENDPOINT"
    external_labels: {cluster: ci}
    remote_write_queue: {queue_size: 100, num_consumers: 1}
    retry_on_failure: {initial_interval: 200ms, max_interval: 1s, max_elapsed_time: 60s}
service:
  pipelines:
    metrics: {receivers: [otlp], exporters: [prometheusremotewrite]}
"""

SEL = '{job="promtest",instance="inst-1",cluster="ci"}'


def start(spawn, endpoint, name="prw"):
    grpc = free_port()
    a = spawn(name, CONFIG.replace("GRPC_PORT", str(grpc)).replace("ENDPOINT", endpoint))
    return a, grpc


def check_all(prom):
    prom.wait_value(f"sum(http_requests_total{SEL})", sum(n for _, n in ADDS))
    assert prom.value(f'http_requests_total{{job="promtest",route="/a"}}') == sum(n for r, n in ADDS if r == "/a")
    assert prom.value(f"process_memory_usage_bytes{SEL}") == GAUGE
    assert prom.value(f"request_duration_seconds_count{SEL}") == len(DURATIONS)
    assert abs(prom.value(f"request_duration_seconds_sum{SEL}") - sum(DURATIONS)) < 1e-9
    q = prom.value(f"histogram_quantile(0.5, sum by (le) (request_duration_seconds_bucket{SEL}))")
    assert abs(q - median_by_hand()) < 1e-9, q
    info = prom.query('target_info{job="promtest"}')
    assert len(info) == 1 and info[0][0]["deployment_environment"] == "test", info


def test_remote_write_counter_gauge_histogram(spawn, workdir, request):
    prom = start_prometheus(request, workdir, remote_write=True)
    a, grpc = start(spawn, f"{prom.url}/api/v1/write")
    send_all(grpc)
    check_all(prom)
    # Two counter points (one per route), the gauge and the histogram.
    wait_until(lambda: a.metric_sum("aiotel_exporter_sent_metric_points_total") == 4, what="sent counted")
    assert a.metric_sum("aiotel_exporter_send_failed_metric_points_total") == 0


def test_delta_counter_is_accumulated(spawn, workdir, request):
    prom = start_prometheus(request, workdir, remote_write=True)
    _, grpc = start(spawn, f"{prom.url}/api/v1/write")
    mp = provider(grpc, delta=True)
    counter = mp.get_meter("m").create_counter("jobs.done")
    for n in (3, 4, 5):
        counter.add(n)
        assert mp.force_flush(10_000)
    mp.shutdown()
    prom.wait_value('jobs_done_total{job="promtest"}', 12)


def test_unreachable_endpoint_is_retried_until_it_comes_up(spawn, workdir, request):
    port = free_port()
    a, grpc = start(spawn, f"http://127.0.0.1:{port}/api/v1/write")
    # Accepted into the sending queue; the one consumer retries the first
    # batch, a delta, again and again: it must be added up only once.
    mp = provider(grpc, delta=True)
    counter = mp.get_meter("m").create_counter("jobs.done")
    for n in (3, 4):
        counter.add(n)
        assert mp.force_flush(10_000)
    mp.shutdown()
    send_all(grpc)
    wait_until(lambda: a.logs().count("will retry") >= 6, what="several retries")
    prom = Prometheus(workdir, remote_write=True, port=port).start()
    request.addfinalizer(prom.stop)
    check_all(prom)
    prom.wait_value('jobs_done_total{job="promtest"}', 7)
    assert a.metric_sum("aiotel_exporter_send_failed_metric_points_total") == 0


def test_client_error_is_permanent_and_counted(spawn, workdir, request):
    prom = start_prometheus(request, workdir, remote_write=True)
    a, grpc = start(spawn, f"{prom.url}/api/v1/no-such-path")
    send_all(grpc)
    # Two counter points, one gauge, one histogram: every one counted as failed, none retried.
    wait_until(lambda: a.metric_sum("aiotel_exporter_send_failed_metric_points_total") >= 4, what="failure counted")
    assert a.metric_sum("aiotel_exporter_send_failed_metric_points_total") == 4
    assert "404" in a.logs()
    assert "will retry" not in a.logs()
    assert a.metric_sum("aiotel_exporter_sent_metric_points_total") == 0


def test_points_without_a_prometheus_form_are_counted_and_the_rest_written(spawn, workdir, request):
    import time

    from otlp_metrics import malformed_metrics, post_metrics_json

    prom = start_prometheus(request, workdir, remote_write=True)
    http = free_port()
    cfg = CONFIG.replace('grpc: {endpoint: "127.0.0.1:GRPC_PORT"}', f'http: {{endpoint: "127.0.0.1:{http}"}}')
    a = spawn("bad", cfg.replace("ENDPOINT", f"{prom.url}/api/v1/write"))
    assert post_metrics_json(http, malformed_metrics(time.time_ns(), conflict=False)) == 200
    prom.wait_value('ok_gauge{job="bad"}', 1.5)
    assert prom.query('{__name__=~"broken_hist.*|exp_hist.*|updown"}') == []
    wait_until(lambda: a.metric_sum("aiotel_exporter_send_failed_metric_points_total") == 4, what="4 counted")
    assert "no Prometheus form" in a.logs()


def test_spanmetrics_exemplars_are_written(spawn, workdir, request):
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    prom = start_prometheus(request, workdir, remote_write=True, features=["exemplar-storage"])
    grpc = free_port()
    spawn(
        "prwex",
        f"""
receivers:
  otlp: {{protocols: {{grpc: {{endpoint: "127.0.0.1:{grpc}"}}}}}}
connectors:
  spanmetrics: {{metrics_flush_interval: 200ms, histogram: {{unit: s}}, exemplars: {{enabled: true}}}}
exporters:
  prometheusremotewrite: {{endpoint: "{prom.url}/api/v1/write", remote_write_queue: {{num_consumers: 1}}}}
service:
  pipelines:
    traces: {{receivers: [otlp], exporters: [spanmetrics]}}
    metrics: {{receivers: [spanmetrics], exporters: [prometheusremotewrite]}}
""",
    )
    tp = TracerProvider(resource=Resource.create({"service.name": "prw-ex"}))
    tp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc}", insecure=True)))
    t0 = __import__("time").time_ns()
    span = tp.get_tracer("t").start_span("slow op", start_time=t0)
    trace_id = format(span.get_span_context().trace_id, "032x")
    span.end(end_time=t0 + 3_000_000_000)
    tp.shutdown()

    prom.wait_value('sum(traces_span_metrics_calls_total{service_name="prw-ex"})', 1)
    ex = wait_until(
        lambda: prom.exemplars('traces_span_metrics_duration_seconds_bucket{service_name="prw-ex"}') or None,
        timeout=30, interval=0.5, what="exemplars in Prometheus",
    )
    assert {e["trace_id"] for _, e, _ in ex} == {trace_id}, ex
    assert {s["le"] for s, _, _ in ex} == {"5"}, ex  # 3 s is in (2, 5] of the default buckets


def test_no_recorded_value_becomes_a_staleness_marker(spawn, workdir, request):
    import time

    from otlp_metrics import post_metrics_json

    prom = start_prometheus(request, workdir, remote_write=True)
    http = free_port()
    cfg = CONFIG.replace('grpc: {endpoint: "127.0.0.1:GRPC_PORT"}', f'http: {{endpoint: "127.0.0.1:{http}"}}')
    spawn("stale", cfg.replace("ENDPOINT", f"{prom.url}/api/v1/write"))

    def gauge(t_ns, flags=0):
        p = {"asDouble": 5, "timeUnixNano": str(t_ns), "flags": flags}
        res = {"attributes": [{"key": "service.name", "value": {"stringValue": "st"}}]}
        m = {"name": "temp", "unit": "Cel", "gauge": {"dataPoints": [p]}}
        return {"resourceMetrics": [{"resource": res, "scopeMetrics": [{"metrics": [m]}]}]}

    now = time.time_ns()
    assert post_metrics_json(http, gauge(now - 2_000_000_000)) == 200
    prom.wait_value('temp_celsius{job="st"}', 5)
    # The series ends: the instant query no longer finds it, though its past value stays.
    assert post_metrics_json(http, gauge(now - 1_000_000_000, flags=1)) == 200
    wait_until(lambda: prom.query('temp_celsius{job="st"}') == [], what="series marked stale")
    assert prom.value('max_over_time(temp_celsius{job="st"}[5m])') == 5
