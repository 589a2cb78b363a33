"""spanmetrics through the running daemon: a scripted mix of LLM spans from
the real SDK becomes R.E.D. and GenAI metrics whose every count, sum and
bucket matches what the script sent."""

import time

from conftest import free_port, read_jsonl, wait_until
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

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
  file: {path: OUT_PATH}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [spanmetrics]}
    metrics: {receivers: [spanmetrics], exporters: [file]}
"""

NS = 1_000_000_000
# (model, input tokens, output tokens, duration s, ttft s, cost USD, error type)
CALLS = [
    ("gpt-4o", 1000, 200, 2.0, 0.5, 0.0045, None),
    ("gpt-4o", 3000, 101, 1.5, 0.5, 0.0085, None),
    ("claude-sonnet-4-5", 500, 50, 0.9, 0.3, 0.00225, None),
    ("gpt-4o", 10, 0, 0.05, None, 0.0, "rate_limit_exceeded"),
]


def send(port):
    tp = TracerProvider(resource=Resource.create({"service.name": "chat-api"}))
    tp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True)))
    tracer = tp.get_tracer("llm")
    start = time.time_ns()
    for i, (model, tin, tout, dur, ttft, cost, err) in enumerate(CALLS):
        attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic" if model.startswith("claude") else "openai",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": tin,
            "gen_ai.usage.output_tokens": tout,
            "gen_ai.cost.total": cost,
            "enduser.id": f"user-{i % 2}",
        }
        if ttft is not None:
            attrs["gen_ai.response.time_to_first_chunk"] = ttft
        if err:
            attrs["error.type"] = err
        t0 = start + i * 10 * NS
        span = tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attrs, start_time=t0)
        if model == "claude-sonnet-4-5":
            span.add_event("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "hallucination",
                                                        "gen_ai.evaluation.score.value": 0.8,
                                                        "gen_ai.evaluation.score.label": "hallucinated"}, timestamp=t0 + NS // 10)
        if err:
            span.set_status(Status(StatusCode.ERROR, "429"))
        span.end(end_time=t0 + int(dur * NS))
    tp.shutdown()


def latest_points(lines):
    """The last flush's points of every metric, by name, as (attributes, point) pairs."""
    out = {}
    for line in lines:
        for rm in line.get("resourceMetrics", []):
            for sm in rm["scopeMetrics"]:
                for m in sm["metrics"]:
                    data = m.get("histogram") or m.get("sum") or m.get("gauge")
                    pts = []
                    for p in data["dataPoints"]:
                        attrs = {kv["key"]: next(iter(kv["value"].values())) for kv in p.get("attributes", [])}
                        pts.append((attrs, p))
                    out[m["name"]] = pts
    return out


def h(points, **want):
    """Merges every point matching `want` (series also split by user, for example)."""
    found = [p for a, p in points if all(a.get(k) == v for k, v in want.items())]
    assert found, (want, [a for a, _ in points])
    merged = dict(found[0])
    if "asInt" in merged:
        merged["asInt"] = sum(int(p["asInt"]) for p in found)
    if "asDouble" in merged:
        merged["asDouble"] = sum(p["asDouble"] for p in found)
    if "count" in merged:
        merged["count"] = sum(int(p["count"]) for p in found)
        merged["sum"] = sum(p["sum"] for p in found)
        merged["bucketCounts"] = [sum(int(p["bucketCounts"][i]) for p in found) for i in range(len(found[0]["bucketCounts"]))]
    return merged


def test_genai_metrics_match_the_script(spawn, workdir):
    port = free_port()
    out = workdir / "metrics.jsonl"
    spawn("sm", CONFIG.replace("GRPC_PORT", str(port)).replace("OUT_PATH", str(out)))
    send(port)

    def complete():
        m = latest_points(read_jsonl(out))
        calls = m.get("traces.span.metrics.calls", [])
        return m if sum(int(p["asInt"]) for _, p in calls) == len(CALLS) else None

    m = wait_until(complete, what="all calls counted")

    # R.E.D.: calls per span name and status, duration histograms in seconds.
    calls = m["traces.span.metrics.calls"]
    assert int(h(calls, **{"span.name": "chat gpt-4o", "status.code": "STATUS_CODE_UNSET"})["asInt"]) == 2
    assert int(h(calls, **{"span.name": "chat gpt-4o", "status.code": "STATUS_CODE_ERROR"})["asInt"]) == 1
    dur = h(m["traces.span.metrics.duration"], **{"span.name": "chat gpt-4o", "status.code": "STATUS_CODE_UNSET"})
    assert int(dur["count"]) == 2 and abs(dur["sum"] - 3.5) < 1e-9

    # Token usage: one observation per token type per call, by model.
    tok = m["gen_ai.client.token.usage"]
    gin = h(tok, **{"gen_ai.request.model": "gpt-4o", "gen_ai.token.type": "input"})
    assert int(gin["count"]) == 3 and gin["sum"] == 4010
    gout = h(tok, **{"gen_ai.request.model": "gpt-4o", "gen_ai.token.type": "output"})
    assert int(gout["count"]) == 3 and gout["sum"] == 301
    bounds = gin["explicitBounds"]
    assert bounds[:6] == [1, 4, 16, 64, 256, 1024]
    # 10 -> (4,16], 1000 -> (256,1024], 3000 -> (1024,4096]
    counts = [int(c) for c in gin["bucketCounts"]]
    assert counts[2] == 1 and counts[5] == 1 and counts[6] == 1 and sum(counts) == 3

    # Operation duration carries error.type on the failed call.
    od = m["gen_ai.client.operation.duration"]
    err = h(od, **{"gen_ai.request.model": "gpt-4o", "error.type": "rate_limit_exceeded"})
    assert int(err["count"]) == 1 and abs(err["sum"] - 0.05) < 1e-9

    # Time to first token, and time per output token = (dur - ttft) / (out - 1).
    ttft = h(m["gen_ai.server.time_to_first_token"], **{"gen_ai.request.model": "gpt-4o"})
    assert int(ttft["count"]) == 2 and abs(ttft["sum"] - 1.0) < 1e-9
    tpot = h(m["gen_ai.server.time_per_output_token"], **{"gen_ai.request.model": "gpt-4o"})
    assert int(tpot["count"]) == 2 and abs(tpot["sum"] - ((2.0 - 0.5) / 199 + (1.5 - 0.5) / 100)) < 1e-9

    # Cost per model, from gen_ai.cost.total.
    cost = m["gen_ai.client.cost"]
    total = sum(p["asDouble"] for a, p in cost if a.get("gen_ai.request.model") == "gpt-4o")
    assert abs(total - (0.0045 + 0.0085)) < 1e-9

    # Evaluations: counted by name and label; score histogram.
    ev = h(m["gen_ai.evaluation.results"], **{"gen_ai.evaluation.name": "hallucination"})
    assert int(ev["asInt"]) == 1
    score = h(m["gen_ai.evaluation.score"], **{"gen_ai.evaluation.name": "hallucination"})
    assert abs(score["sum"] - 0.8) < 1e-9


FANOUT = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
connectors:
  spanmetrics:
    metrics_flush_interval: 60s
exporters:
  file/spans: {path: SPANS_PATH}
  file/metrics: {path: OUT_PATH}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [spanmetrics, file/spans]}
    metrics: {receivers: [spanmetrics], exporters: [file/metrics]}
"""


def test_spans_go_on_and_the_last_metrics_flush_at_shutdown(spawn, workdir):
    import signal

    from load import span_ids_in_file

    port = free_port()
    out, spans_out = workdir / "metrics.jsonl", workdir / "spans.jsonl"
    d = spawn("fan", FANOUT.replace("GRPC_PORT", str(port)).replace("OUT_PATH", str(out)).replace("SPANS_PATH", str(spans_out)))
    send(port)
    wait_until(lambda: len(span_ids_in_file(read_jsonl(spans_out))) == len(CALLS), what="spans passed on")
    assert not read_jsonl(out), "nothing is flushed before the interval"
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(timeout=30) == 0
    calls = latest_points(read_jsonl(out))["traces.span.metrics.calls"]
    assert sum(int(p["asInt"]) for _, p in calls) == len(CALLS)
