"""AI-aware tail sampling through the running daemon: the interesting traces
are kept whole, tagged with the policy that kept them; 1% of the rest is kept."""

import random

from conftest import free_port, read_jsonl, wait_until
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
processors:
  tail_sampling:
    decision_wait: 1s
    num_traces: 100000
    policies:
      - {name: big-spenders, type: genai_cost, genai_cost: {min_cost: 1.0}}
      - {name: token-hogs, type: genai_tokens, genai_tokens: {min_tokens: 100000}}
      - {name: llm-errors, type: genai_error, genai_error: {error_types: [rate_limit_exceeded]}}
      - {name: hallucinations, type: genai_evaluation, genai_evaluation: {name: hallucination, min_score: 0.5}}
      - {name: runaway-agents, type: genai_loop, genai_loop: {max_llm_calls: 25, max_same_tool_calls: 10}}
      - {name: one-percent, type: probabilistic, probabilistic: {sampling_percentage: 1}}
exporters:
  file: {path: OUT_PATH}
service:
  pipelines:
    traces: {receivers: [otlp], processors: [tail_sampling], exporters: [file]}
"""

BORING = 3000


def llm(tracer, name="chat gpt-4o", **attrs):
    base = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20}
    base.update(attrs)
    return tracer.start_as_current_span(name, attributes=base)


def test_ai_policies_keep_the_interesting_traces(spawn, workdir):
    port = free_port()
    out = workdir / "kept.jsonl"
    d = spawn("ts", CONFIG.replace("GRPC_PORT", str(port)).replace("OUT_PATH", str(out)))
    tp = TracerProvider(resource=Resource.create({"service.name": "agent"}))
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True),
                                             max_queue_size=100_000, max_export_batch_size=512))
    t = tp.get_tracer("agent")
    expected = {}

    def root(name):
        span = t.start_span(name)
        expected[name] = format(span.get_span_context().trace_id, "032x")
        return span

    from opentelemetry import trace as api

    # A runaway agent: 40 LLM calls in one trace.
    with api.use_span(root("loop"), end_on_exit=True):
        for _ in range(40):
            with llm(t):
                pass
    # A $2 trace.
    with api.use_span(root("expensive"), end_on_exit=True):
        with llm(t, **{"gen_ai.cost.total": 1.25}):
            pass
        with llm(t, **{"gen_ai.cost.total": 0.75}):
            pass
    # A hallucination-flagged answer.
    with api.use_span(root("hallucinated"), end_on_exit=True):
        with llm(t) as s:
            s.add_event("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "hallucination",
                                                     "gen_ai.evaluation.score.value": 0.9})
    # A rate-limited LLM error.
    with api.use_span(root("ratelimited"), end_on_exit=True):
        with llm(t, **{"error.type": "rate_limit_exceeded"}) as s:
            s.set_status(Status(StatusCode.ERROR, "429 Too Many Requests"))
    # Boring traces: a small LLM call each.
    boring_ids = set()
    for i in range(BORING):
        with t.start_as_current_span("boring") as b:
            boring_ids.add(format(b.get_span_context().trace_id, "032x"))
            with llm(t):
                pass
    tp.shutdown()

    def kept():
        traces = {}
        for line in read_jsonl(out):
            for rs in line.get("resourceSpans", []):
                for ss in rs["scopeSpans"]:
                    for sp in ss["spans"]:
                        pol = {kv["key"]: kv["value"].get("stringValue") for kv in sp["attributes"]}.get("sampling.policy")
                        traces.setdefault(sp["traceId"], []).append((sp["name"], pol))
        return traces

    total = 4 + BORING
    wait_until(lambda: d.metric_sum("aiotel_receiver_accepted_spans_total") >= 40 + 1 + 3 + 2 + 2 + 2 * BORING,
               what="all spans accepted")
    traces = wait_until(lambda: (lambda k: k if all(v in k for v in expected.values()) else None)(kept()),
                        timeout=30, what="interesting traces kept")
    policy = {"loop": "runaway-agents", "expensive": "big-spenders", "hallucinated": "hallucinations",
              "ratelimited": "llm-errors"}
    sizes = {"loop": 41, "expensive": 3, "hallucinated": 2, "ratelimited": 2}
    for name, tid in expected.items():
        spans = traces[tid]
        assert len(spans) == sizes[name], (name, len(spans))
        assert {p for _, p in spans} == {policy[name]}, (name, spans)
    # 1% of the boring traces, by a trace-id hash; with 3000 traces, 30 expected and
    # a 4-sigma tolerance of about 22 either way.
    import time

    time.sleep(2)
    boring_kept = [tid for tid in kept() if tid in boring_ids]
    assert 8 <= len(boring_kept) <= 52, len(boring_kept)
    assert all(len(kept()[tid]) == 2 for tid in boring_kept), "boring traces are kept whole"
    print(f"kept {len(boring_kept)} of {BORING} boring traces")
