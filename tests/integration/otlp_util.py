"""OTLP helpers for tests: JSON senders for the Python SDK, and
field-by-field comparison of what was sent with what came out."""

import base64
import json

import requests
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs.export import LogExporter, LogExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

REQUEST = {"traces": ExportTraceServiceRequest, "metrics": ExportMetricsServiceRequest, "logs": ExportLogsServiceRequest}
ID_KEYS = {"traceId", "spanId", "parentSpanId"}


def _ids(obj, conv):
    if isinstance(obj, dict):
        return {k: (conv(v) if k in ID_KEYS and isinstance(v, str) else _ids(v, conv)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_ids(v, conv) for v in obj]
    return obj


def proto_to_otlp_json(msg) -> dict:
    """Protobuf message -> OTLP/JSON (ids as hex, enums as integers)."""
    d = json_format.MessageToDict(msg, use_integers_for_enums=True)
    return _ids(d, lambda v: base64.b64decode(v).hex())


def otlp_json_to_proto(signal: str, d: dict):
    """OTLP/JSON -> protobuf message of the signal's export request."""
    d = _ids(d, lambda v: base64.b64encode(bytes.fromhex(v)).decode())
    return json_format.ParseDict(d, REQUEST[signal]())


def items(signal: str, req) -> list:
    """Each span / data point / log record with its resource and scope, as canonical bytes."""
    out = []
    if signal == "traces":
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    out.append((rs.resource.SerializeToString(deterministic=True), rs.schema_url,
                                ss.scope.SerializeToString(deterministic=True), ss.schema_url,
                                sp.SerializeToString(deterministic=True)))
    elif signal == "logs":
        for rl in req.resource_logs:
            for sl in rl.scope_logs:
                for lr in sl.log_records:
                    out.append((rl.resource.SerializeToString(deterministic=True), rl.schema_url,
                                sl.scope.SerializeToString(deterministic=True), sl.schema_url,
                                lr.SerializeToString(deterministic=True)))
    else:
        for rm in req.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    out.append((rm.resource.SerializeToString(deterministic=True), rm.schema_url,
                                sm.scope.SerializeToString(deterministic=True), sm.schema_url,
                                m.SerializeToString(deterministic=True)))
    return out


def items_from_file(signal: str, lines: list) -> list:
    key = {"traces": "resourceSpans", "metrics": "resourceMetrics", "logs": "resourceLogs"}[signal]
    out = []
    for line in lines:
        if key in line:
            out.extend(items(signal, otlp_json_to_proto(signal, line)))
    return out


class _JsonPoster:
    def __init__(self, url):
        self.url = url
        self.session = requests.Session()

    def post(self, msg):
        body = json.dumps(proto_to_otlp_json(msg))
        for _ in range(20):
            r = self.session.post(self.url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
            if r.status_code == 200:
                return True
            if r.status_code not in (429, 503):
                raise RuntimeError(f"{r.status_code}: {r.text}")
            import time

            time.sleep(float(r.headers.get("Retry-After", "1")))
        return False


class JsonSpanExporter(SpanExporter):
    """Sends spans as OTLP/JSON over HTTP; the SDK itself only sends protobuf."""

    def __init__(self, url, record=None):
        self.poster = _JsonPoster(url)
        self.record = record

    def export(self, spans):
        msg = encode_spans(spans)
        if self.record is not None:
            self.record.append(msg)
        return SpanExportResult.SUCCESS if self.poster.post(msg) else SpanExportResult.FAILURE

    def shutdown(self):
        pass


class JsonLogExporter(LogExporter):
    def __init__(self, url, record=None):
        self.poster = _JsonPoster(url)
        self.record = record

    def export(self, batch):
        msg = encode_logs(batch)
        if self.record is not None:
            self.record.append(msg)
        return LogExportResult.SUCCESS if self.poster.post(msg) else LogExportResult.FAILURE

    def shutdown(self):
        pass


class JsonMetricExporter(MetricExporter):
    def __init__(self, url, record=None):
        super().__init__()
        self.poster = _JsonPoster(url)
        self.record = record

    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        msg = encode_metrics(metrics_data)
        if self.record is not None:
            self.record.append(msg)
        return MetricExportResult.SUCCESS if self.poster.post(msg) else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis=10_000):
        return True

    def shutdown(self, timeout_millis=30_000, **kwargs):
        pass


class Recording:
    """Wraps an SDK exporter and keeps the protobuf request of every export."""

    def __init__(self, inner, encode, record):
        self.inner = inner
        self.encode = encode
        self.record = record

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def export(self, batch, *a, **kw):
        self.record.append(self.encode(batch))
        return self.inner.export(batch, *a, **kw)
