"""Sends a counter, a gauge and a histogram through the OpenTelemetry SDK
over OTLP/gRPC, with values whose Prometheus results are computed by hand."""

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

RESOURCE = {"service.name": "promtest", "service.instance.id": "inst-1", "deployment.environment": "test"}
BOUNDS = [0.1, 0.5, 1.0, 5.0]
DURATIONS = [0.05, 0.2, 0.3, 0.7, 2.0]
# By route: 3 + 4 on /a, 5 on /b.
ADDS = [("/a", 3), ("/a", 4), ("/b", 5)]
GAUGE = 2048


def provider(port, delta=False):
    temporality = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA} if delta else {}
    exporter = OTLPMetricExporter(endpoint=f"127.0.0.1:{port}", insecure=True, preferred_temporality=temporality)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    view = View(instrument_name="request.duration", aggregation=ExplicitBucketHistogramAggregation(BOUNDS))
    return MeterProvider(resource=Resource.create(RESOURCE), metric_readers=[reader], views=[view])


def send_all(port):
    """Records everything and exports it exactly once, as the SDK shuts down."""
    mp = provider(port)
    meter = mp.get_meter("promtest.meter", "1.0")
    counter = meter.create_counter("http.requests", unit="{request}", description="Requests served")
    gauge = meter.create_gauge("process.memory.usage", unit="By")
    hist = meter.create_histogram("request.duration", unit="s")
    for route, n in ADDS:
        counter.add(n, {"route": route})
    gauge.set(GAUGE)
    for d in DURATIONS:
        hist.record(d)
    mp.shutdown()


def median_by_hand():
    """histogram_quantile(0.5) over BOUNDS/DURATIONS: rank 2.5 falls in (0.1, 0.5], which holds
    observations 2 and 3 (cumulative 1 below it, 3 at its top): 0.1 + 0.4 * (2.5 - 1) / (3 - 1)."""
    return 0.1 + (0.5 - 0.1) * (2.5 - 1) / (3 - 1)


def malformed_metrics(now_ns, conflict=True):
    """OTLP/JSON with one good gauge and points that have no Prometheus form:
    a histogram with 2 bounds but 2 buckets, an exponential histogram, a
    non-monotonic delta sum, a name with no valid character and (for the pull
    exporter) a histogram reusing the gauge's name: 5 bad points, or 4."""
    t = str(now_ns)
    metrics = [
        {"name": "ok.gauge", "gauge": {"dataPoints": [{"asDouble": 1.5, "timeUnixNano": t}]}},
        {"name": "broken.hist", "histogram": {"aggregationTemporality": 2, "dataPoints": [
            {"count": "3", "sum": 1, "explicitBounds": [1, 2], "bucketCounts": ["1", "2"], "timeUnixNano": t}]}},
        {"name": "exp.hist", "exponentialHistogram": {"aggregationTemporality": 2, "dataPoints": [
            {"count": "1", "scale": 0, "timeUnixNano": t}]}},
        {"name": "updown", "sum": {"aggregationTemporality": 1, "isMonotonic": False, "dataPoints": [
            {"asInt": "1", "timeUnixNano": t}]}},
        {"name": "...", "gauge": {"dataPoints": [{"asDouble": 1, "timeUnixNano": t}]}},
    ]
    if conflict:
        metrics.append({"name": "ok.gauge", "histogram": {"aggregationTemporality": 2, "dataPoints": [
            {"count": "1", "sum": 1, "explicitBounds": [1], "bucketCounts": ["1", "0"], "timeUnixNano": t}]}})
    res = {"attributes": [{"key": "service.name", "value": {"stringValue": "bad"}}]}
    return {"resourceMetrics": [{"resource": res, "scopeMetrics": [{"metrics": metrics}]}]}


def post_metrics_json(port, body):
    import json
    import urllib.request

    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/metrics", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status
