"""LLM spans → `spanmetrics` → `prometheus` exporter → a real Prometheus:
PromQL by model returns the call, token, error and cost numbers computed by
hand from the scripted spans the OpenTelemetry SDK sent."""

import urllib.request

from conftest import free_port, wait_until
from prometheus_server import start_prometheus
from test_spanmetrics import CALLS, send

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
connectors:
  spanmetrics:
    metrics_flush_interval: 200ms
    histogram: {unit: s}
exporters:
  prometheus: {endpoint: "127.0.0.1:EXPORTER_PORT"}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [spanmetrics]}
    metrics: {receivers: [spanmetrics], exporters: [prometheus]}
"""


def by(prom, promql, label):
    return {m.get(label, ""): v for m, v in prom.query(promql)}


def expected(field, pred=lambda c: True):
    """Sums a field of CALLS by model: 1 input tokens, 2 output tokens, 5 cost."""
    out = {}
    for c in CALLS:
        if pred(c):
            out[c[0]] = out.get(c[0], 0) + (1 if field is None else c[field])
    return out


def test_genai_metrics_through_prometheus(spawn, workdir, request):
    grpc, port = free_port(), free_port()
    spawn("smprom", CONFIG.replace("GRPC_PORT", str(grpc)).replace("EXPORTER_PORT", str(port)))
    prom = start_prometheus(request, workdir, scrape_targets=[("aiotel", f"127.0.0.1:{port}")])
    send(grpc)

    calls = "sum(traces_span_metrics_calls_total)"
    prom.wait_value(calls, len(CALLS))

    model = "gen_ai_request_model"
    tokens = "sum by (gen_ai_request_model) (gen_ai_client_token_usage_{}{{gen_ai_token_type=\"{}\"}})"
    # gpt-4o: 1000 + 3000 + 10 input tokens over 3 calls; claude: 500 over 1.
    assert by(prom, tokens.format("sum", "input"), model) == expected(1) == {"gpt-4o": 4010, "claude-sonnet-4-5": 500}
    assert by(prom, tokens.format("count", "input"), model) == expected(None) == {"gpt-4o": 3, "claude-sonnet-4-5": 1}
    assert by(prom, tokens.format("sum", "output"), model) == expected(2) == {"gpt-4o": 301, "claude-sonnet-4-5": 50}

    # Errors: the one rate-limited gpt-4o call, by model and by span status.
    errors = by(prom, 'sum by (gen_ai_request_model) (gen_ai_client_operation_duration_seconds_count{error_type!=""})', model)
    assert errors == expected(None, lambda c: c[6] is not None) == {"gpt-4o": 1}
    status = {
        (m["span_name"], m["status_code"]): v
        for m, v in prom.query("sum by (span_name, status_code) (traces_span_metrics_calls_total)")
    }
    assert status == {
        ("chat gpt-4o", "STATUS_CODE_UNSET"): 2,
        ("chat gpt-4o", "STATUS_CODE_ERROR"): 1,
        ("chat claude-sonnet-4-5", "STATUS_CODE_UNSET"): 1,
    }

    # Durations in seconds: 2.0 + 1.5 + 0.05 for gpt-4o.
    d = prom.value('sum(traces_span_metrics_duration_seconds_sum{span_name="chat gpt-4o"})')
    assert abs(d - 3.55) < 1e-9, d

    # Cost per model from gen_ai.cost.total.
    cost = by(prom, "sum by (gen_ai_request_model) ({__name__=~\"gen_ai_client_cost.*\"})", model)
    for m, want in expected(5).items():
        assert abs(cost[m] - want) < 1e-9, (m, cost)


def test_exemplars_link_the_duration_buckets_to_the_traces(spawn, workdir, request):
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    grpc, port = free_port(), free_port()
    cfg = CONFIG.replace("GRPC_PORT", str(grpc)).replace("EXPORTER_PORT", str(port))
    cfg = cfg.replace("histogram: {unit: s}", "histogram: {unit: s}\n    exemplars: {enabled: true}")
    cfg = cfg.replace('prometheus: {endpoint: "127.0.0.1:' + str(port) + '"}',
                      'prometheus: {endpoint: "127.0.0.1:' + str(port) + '", enable_open_metrics: true}')
    spawn("smex", cfg)
    prom = start_prometheus(request, workdir, scrape_targets=[("aiotel", f"127.0.0.1:{port}")],
                            features=["exemplar-storage"])

    tp = TracerProvider(resource=Resource.create({"service.name": "ex-api"}))
    tp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc}", insecure=True)))
    tracer = tp.get_tracer("t")
    t0 = __import__("time").time_ns()
    # One span of 3 s: it lands in the (2.5, 5] bucket of the Collector's default seconds buckets.
    span = tracer.start_span("slow op", start_time=t0)
    trace_id = format(span.get_span_context().trace_id, "032x")
    span.end(end_time=t0 + 3_000_000_000)
    tp.shutdown()

    prom.wait_value('sum(traces_span_metrics_calls_total{service_name="ex-api"})', 1)

    def found():
        ex = prom.exemplars('traces_span_metrics_duration_seconds_bucket{service_name="ex-api"}')
        return ex or None

    ex = wait_until(found, timeout=30, interval=0.5, what="exemplars in Prometheus")
    assert {e["trace_id"] for _, e, _ in ex} == {trace_id}, ex
    assert all(abs(v - 3.0) < 1e-9 for _, _, v in ex), ex
    # It sits on the bucket its value falls in, not the ones below it.
    les = {float(s["le"]) for s, _, _ in ex}
    assert min(les) >= 3.0, les
