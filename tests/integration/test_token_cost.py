"""token_cost through the running daemon: every dialect priced from the
embedded table, and a price file that reloads without a restart."""

import signal
import time

from conftest import free_port, read_jsonl, wait_until
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
processors:
  token_cost: TOKEN_COST
exporters:
  file: {path: OUT_PATH}
service:
  pipelines:
    traces: {receivers: [otlp], processors: [token_cost], exporters: [file]}
"""


def start(spawn, workdir, token_cost="{}", name="tc"):
    port = free_port()
    out = workdir / f"{name}.jsonl"
    cfg = CONFIG.replace("GRPC_PORT", str(port)).replace("OUT_PATH", str(out)).replace("TOKEN_COST", token_cost)
    return spawn(name, cfg), port, out


def send(port, spans, resource=None):
    tp = TracerProvider(resource=Resource.create(resource or {"service.name": "chat", "tenant.id": "t-9"}))
    tp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True)))
    tracer = tp.get_tracer("llm")
    for name, attrs in spans:
        with tracer.start_as_current_span(name, attributes=attrs):
            pass
    tp.shutdown()


def costs(out):
    result = {}
    for line in read_jsonl(out):
        for rs in line.get("resourceSpans", []):
            res = {kv["key"]: next(iter(kv["value"].values())) for kv in rs["resource"]["attributes"]}
            for ss in rs["scopeSpans"]:
                for sp in ss["spans"]:
                    attrs = {kv["key"]: next(iter(kv["value"].values())) for kv in sp["attributes"]}
                    result[sp["name"]] = dict(attrs, resource=res)
    return result


M = 1_000_000
CASES = [
    # OTel current names: input includes cache reads; gpt-4o 2.50 in / 1.25 cache read / 10.00 out.
    ("otel", {"gen_ai.provider.name": "openai", "gen_ai.response.model": "gpt-4o-2024-08-06",
              "gen_ai.usage.input_tokens": 10_000, "gen_ai.usage.cache_read.input_tokens": 4_000,
              "gen_ai.usage.output_tokens": 500}, (6_000 * 2.50 + 4_000 * 1.25 + 500 * 10.00) / M),
    # OTel deprecated names.
    ("deprecated", {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.prompt_tokens": 2_000, "gen_ai.usage.completion_tokens": 1_000},
     (2_000 * 0.15 + 1_000 * 0.60) / M),
    # OpenInference on Bedrock: claude-sonnet-4-5 3.00 in / 15.00 out.
    ("openinference", {"openinference.span.kind": "LLM", "llm.provider": "aws",
                       "llm.model_name": "anthropic.claude-sonnet-4-5-20250929-v1:0",
                       "llm.token_count.prompt": 1_200, "llm.token_count.completion": 300},
     (1_200 * 3.00 + 300 * 15.00) / M),
    # An unknown model: tokens but no price.
    ("unknown", {"gen_ai.request.model": "my-private-model", "gen_ai.usage.input_tokens": 5,
                 "gen_ai.usage.output_tokens": 5}, None),
]


def test_every_dialect_priced_with_attribution(spawn, workdir):
    d, port, out = start(spawn, workdir)
    send(port, [(n, a) for n, a, _ in CASES])
    got = wait_until(lambda: (lambda c: c if len(c) == len(CASES) else None)(costs(out)), what="priced spans")
    for name, _, want in CASES:
        attrs = got[name]
        if want is None:
            assert attrs.get("gen_ai.cost.unpriced") is True and "gen_ai.cost.total" not in attrs, attrs
        else:
            assert abs(attrs["gen_ai.cost.total"] - want) < 1e-9, (name, attrs["gen_ai.cost.total"], want)
            assert attrs["gen_ai.cost.currency"] == "USD" and attrs["gen_ai.cost.pricing_model"]
            # Attribution the spanmetrics connector reads from the resource,
            # which is not copied onto every span.
            assert attrs["resource"]["service.name"] == "chat" and attrs["resource"]["tenant.id"] == "t-9"
            assert "service.name" not in attrs and "tenant.id" not in attrs
            assert attrs["gen_ai.provider.name"]


def price_file(path, gpt4o_input):
    path.write_text(f"currency: USD\nmodels:\n  gpt-4o: {{input: {gpt4o_input}, output: 10.00, source: test, as_of: 2026-11-22}}\n")


def test_price_file_reloads_without_restart(spawn, workdir):
    prices = workdir / "prices.yaml"
    price_file(prices, 2.50)
    d, port, out = start(spawn, workdir, f"{{prices: {prices}, include_default_prices: false, reload_interval: 0s}}")
    span = {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1_000_000, "gen_ai.usage.output_tokens": 0}
    send(port, [("before", span)])
    wait_until(lambda: "before" in costs(out), what="first span")
    assert abs(costs(out)["before"]["gen_ai.cost.total"] - 2.50) < 1e-9

    price_file(prices, 5.00)
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "price table reloaded" in d.logs(), what="reload log")
    send(port, [("after", span)])
    wait_until(lambda: "after" in costs(out), what="second span")
    assert abs(costs(out)["after"]["gen_ai.cost.total"] - 5.00) < 1e-9

    prices.write_text("models: [this is: not, a price table")
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "price reload failed" in d.logs(), what="error log")
    assert str(prices) in d.logs()
    send(port, [("broken", span)])
    wait_until(lambda: "broken" in costs(out), what="third span")
    assert abs(costs(out)["broken"]["gen_ai.cost.total"] - 5.00) < 1e-9, "the old table must stay in force"
    assert d.proc.poll() is None


def test_price_file_is_watched(spawn, workdir):
    prices = workdir / "prices.yaml"
    price_file(prices, 1.00)
    d, port, out = start(spawn, workdir, f"{{prices: {prices}, include_default_prices: false, reload_interval: 100ms}}", "watch")
    span = {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1_000_000, "gen_ai.usage.output_tokens": 0}
    time.sleep(1.1)  # a new mtime tick
    price_file(prices, 7.00)
    time.sleep(0.5)
    send(port, [("watched", span)])
    wait_until(lambda: "watched" in costs(out), what="span")
    assert abs(costs(out)["watched"]["gen_ai.cost.total"] - 7.00) < 1e-9
