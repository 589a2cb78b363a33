"""A real Python SDK client sends traces, metrics and logs over gRPC, HTTP
protobuf and HTTP JSON through aiotel into a second aiotel, whose file
exporter is compared with what the client sent, field by field."""

import logging

import pytest
from conftest import free_port, read_jsonl, wait_until
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from pipelines import back
from otlp_util import JsonLogExporter, JsonMetricExporter, JsonSpanExporter, Recording, items, items_from_file

FRONT = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
      http: {endpoint: "127.0.0.1:HTTP_PORT"}
processors:
  batch: {timeout: 100ms, send_batch_size: 50}
exporters:
  otlp/back:
    endpoint: 127.0.0.1:BACK_PORT
    tls: {insecure: true}
service:
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [otlp/back]}
    metrics: {receivers: [otlp], processors: [batch], exporters: [otlp/back]}
    logs: {receivers: [otlp], processors: [batch], exporters: [otlp/back]}
"""


RESOURCE = Resource.create(
    {
        "service.name": "roundtrip",
        "deployment.environment.name": "test",
        "r.int": 42,
        "r.float": 1.5,
        "r.bool": False,
        "r.list": ["a", "b"],
    }
)


def exporters(transport, grpc_port, http_port):
    if transport == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        ep = f"http://127.0.0.1:{grpc_port}"
        return OTLPSpanExporter(endpoint=ep, insecure=True), OTLPMetricExporter(endpoint=ep, insecure=True), OTLPLogExporter(endpoint=ep, insecure=True)
    base = f"http://127.0.0.1:{http_port}"
    if transport == "http-proto":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return (
            OTLPSpanExporter(endpoint=f"{base}/v1/traces"),
            OTLPMetricExporter(endpoint=f"{base}/v1/metrics"),
            OTLPLogExporter(endpoint=f"{base}/v1/logs"),
        )
    return JsonSpanExporter(f"{base}/v1/traces"), JsonMetricExporter(f"{base}/v1/metrics"), JsonLogExporter(f"{base}/v1/logs")


def emit_all(transport, grpc_port, http_port):
    """Emits telemetry covering every value type; returns the requests the SDK sent."""
    sent = {"traces": [], "metrics": [], "logs": []}
    span_exp, metric_exp, log_exp = exporters(transport, grpc_port, http_port)

    tp = TracerProvider(resource=RESOURCE)
    tp.add_span_processor(SimpleSpanProcessor(Recording(span_exp, encode_spans, sent["traces"])))
    tracer = tp.get_tracer("roundtrip.tracer", "1.2.3", schema_url="https://opentelemetry.io/schemas/1.26.0")
    with tracer.start_as_current_span("first", kind=SpanKind.SERVER) as first:
        first_ctx = first.get_span_context()
    attrs = {
        "s": "text with ünïcödé ✓",
        "b": True,
        "i": -9007199254740993,
        "d": 3.25,
        "ls": ["x", "y"],
        "lb": [True, False],
        "li": [1, 2, 3],
        "ld": [0.5, 1.5],
    }
    with tracer.start_as_current_span(
        f"chat gpt-4o via {transport}", kind=SpanKind.CLIENT, attributes=attrs, links=[Link(first_ctx, {"link.attr": 7})]
    ) as parent:
        parent.add_event("gen_ai.user.message", {"content": "hello", "n": 1})
        parent.add_event("plain")
        with tracer.start_as_current_span("child", kind=SpanKind.INTERNAL) as child:
            child.set_status(Status(StatusCode.ERROR, "boom"))
            child.record_exception(ValueError("bad value"))
        parent.set_status(Status(StatusCode.OK))
    tp.shutdown()

    reader = PeriodicExportingMetricReader(Recording(metric_exp, encode_metrics, sent["metrics"]), export_interval_millis=3_600_000)
    mp = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = mp.get_meter("roundtrip.meter", "0.1")
    meter.create_counter("requests", unit="{request}", description="count").add(5, {"route": "/a", "ok": True})
    meter.create_up_down_counter("inflight").add(-3, {"k": 1})
    h = meter.create_histogram("latency", unit="s")
    for v in (0.01, 0.2, 3.0):
        h.record(v, {"model": "gpt-4o"})
    meter.create_observable_gauge("temp", callbacks=[lambda _o: [__import__("opentelemetry.metrics", fromlist=["Observation"]).Observation(21.5, {"room": "x"})]])
    mp.force_flush()
    mp.shutdown()

    lp = LoggerProvider(resource=RESOURCE)
    lp.add_log_record_processor(SimpleLogRecordProcessor(Recording(log_exp, encode_logs, sent["logs"])))
    handler = LoggingHandler(level=logging.DEBUG, logger_provider=lp)
    log = logging.getLogger(f"roundtrip.{transport}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    tracer2 = tp.get_tracer("t2")
    log.warning("plain message %s", transport, extra={"user.id": "u1", "count": 3, "ratio": 0.5, "flag": True})
    log.error({"structured": {"nested": [1, "two", 3.0]}, "ok": False})
    log.removeHandler(handler)
    lp.shutdown()
    del tracer2
    return sent


@pytest.mark.parametrize("transport", ["grpc", "http-proto", "http-json"])
def test_sdk_roundtrip_through_two_aiotels(spawn, workdir, transport):
    back_port, grpc_port, http_port = free_port(), free_port(), free_port()
    out = workdir / "out.jsonl"
    spawn("back", back(back_port, out))
    front = spawn(
        "front",
        FRONT.replace("BACK_PORT", str(back_port)).replace("GRPC_PORT", str(grpc_port)).replace("HTTP_PORT", str(http_port)),
    )
    sent = emit_all(transport, grpc_port, http_port)

    for signal in ("traces", "metrics", "logs"):
        want = sorted(i for req in sent[signal] for i in items(signal, req))
        assert want, f"the client sent no {signal}"
        got = wait_until(
            lambda: (lambda g: g if len(g) >= len(want) else None)(sorted(items_from_file(signal, read_jsonl(out)))),
            what=f"{signal} in the file exporter",
        )
        assert len(got) == len(want), f"{signal}: {len(got)} items out, {len(want)} sent"
        print(signal, len(want), "items match")
        for g, w in zip(got, want):
            assert g == w, f"{signal} item differs"

    # Self-metrics count exactly what was sent.
    n_spans = sum(len(i) for i in [items("traces", r) for r in sent["traces"]])
    label = "grpc" if transport == "grpc" else "http"
    assert front.metric_sum("aiotel_receiver_accepted_spans_total", transport=label) == n_spans
    assert front.metric_sum("aiotel_receiver_refused_spans_total") == 0
    wait_until(lambda: front.metric_sum("aiotel_exporter_sent_spans_total") == n_spans, what="exporter sent count")
    n_logs = sum(len(items("logs", r)) for r in sent["logs"])
    assert front.metric_sum("aiotel_receiver_accepted_log_records_total", transport=label) == n_logs
