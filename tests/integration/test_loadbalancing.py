"""Two aiotel agents with the `loadbalancing` exporter (routing_key traceID,
static resolver) in front of three backend aiotel instances with a file
exporter. The spans of every trace are split across both agents; each trace
must land whole on exactly one backend.

A backend leaving the resolver mid-run is tested across processes with the
dns resolver in test_loadbalancing_dns.py, and in process against real gRPC
sinks (src/exporters/loadbalancing/tests.rs)."""

import time
from collections import defaultdict

from conftest import free_port, read_jsonl, wait_until
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pipelines import back

AGENT = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:PORT"}
processors:
  batch: {timeout: 100ms, send_batch_size: 64}
exporters:
  loadbalancing:
    routing_key: traceID
    protocol:
      otlp:
        tls: {insecure: true}
        timeout: 2s
    resolver:
      static:
        hostnames: [BACKENDS]
service:
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [loadbalancing]}
"""

TRACES = 200
SPANS_PER_TRACE = 6


def make_traces(keep_every=0):
    """TRACES traces of SPANS_PER_TRACE spans; with keep_every, the last
    child of every keep_every-th trace carries keep=yes."""
    mem = InMemorySpanExporter()
    tp = TracerProvider(resource=Resource.create({"service.name": "lb-test"}))
    tp.add_span_processor(SimpleSpanProcessor(mem))
    tracer = tp.get_tracer("lb")
    for t in range(TRACES):
        with tracer.start_as_current_span(f"root {t}"):
            for c in range(SPANS_PER_TRACE - 1):
                keep = keep_every and t % keep_every == 0 and c == SPANS_PER_TRACE - 2
                with tracer.start_as_current_span(f"child {t}.{c}", attributes={"keep": "yes"} if keep else {}):
                    pass
    spans = list(mem.get_finished_spans())
    tp.shutdown()
    assert len(spans) == TRACES * SPANS_PER_TRACE
    return spans


def traces_in(lines):
    """{trace id: number of spans} in one backend's file."""
    out = defaultdict(int)
    for line in lines:
        for rs in line.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for sp in ss.get("spans", []):
                    out[sp["traceId"].lower()] += 1
    return out


SAMPLING_BACKEND = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:BACK_PORT"}
processors:
  tail_sampling:
    decision_wait: 1s
    policies:
      - {name: keep, type: string_attribute, string_attribute: {key: keep, values: ["yes"]}}
exporters:
  file: {path: OUT_PATH}
service:
  pipelines:
    traces: {receivers: [otlp], processors: [tail_sampling], exporters: [file]}
"""


def start_tier(spawn, workdir, backend_config):
    ports = [free_port() for _ in range(3)]
    outs = [workdir / f"backend{i}.jsonl" for i in range(3)]
    for i in range(3):
        spawn(f"backend{i}", backend_config.replace("BACK_PORT", str(ports[i])).replace("OUT_PATH", str(outs[i])))
    hostnames = ", ".join(f"'127.0.0.1:{p}'" for p in ports)
    agent_ports = [free_port() for _ in range(2)]
    for i, p in enumerate(agent_ports):
        spawn(f"agent{i}", AGENT.replace("PORT", str(p)).replace("BACKENDS", hostnames))
    return agent_ports, outs


def send_split(agent_ports, spans):
    """Alternates spans between the agents, so every trace goes through both."""
    for i, p in enumerate(agent_ports):
        exp = OTLPSpanExporter(endpoint=f"127.0.0.1:{p}", insecure=True)
        part = spans[i::2]
        for j in range(0, len(part), 100):
            assert exp.export(part[j : j + 100]) == SpanExportResult.SUCCESS
        exp.shutdown()


def test_every_trace_lands_whole_on_one_backend(spawn, workdir):
    agent_ports, outs = start_tier(spawn, workdir, back("BACK_PORT", "OUT_PATH"))
    spans = make_traces()
    send_split(agent_ports, spans)

    total = TRACES * SPANS_PER_TRACE
    per_backend = []

    def arrived():
        per_backend[:] = [traces_in(read_jsonl(o)) for o in outs]
        return sum(sum(b.values()) for b in per_backend) >= total

    wait_until(arrived, timeout=30, what="all spans at the backends")
    assert sum(sum(b.values()) for b in per_backend) == total

    sent = {format(s.context.trace_id, "032x") for s in spans}
    owners = defaultdict(list)
    for i, b in enumerate(per_backend):
        for tid, n in b.items():
            owners[tid].append((i, n))
    assert set(owners) == sent
    for tid, where in owners.items():
        assert len(where) == 1, f"trace {tid} split across backends {where}"
        assert where[0][1] == SPANS_PER_TRACE, f"trace {tid} incomplete: {where}"
    # The ring spreads 200 traces over all three backends.
    counts = [len(b) for b in per_backend]
    assert all(c > 20 for c in counts), counts


def test_tail_sampling_backends_decide_on_whole_traces(spawn, workdir):
    """A backend that saw only part of a kept trace would keep only that
    part, and one that missed the keep=yes span would drop the rest."""
    agent_ports, outs = start_tier(spawn, workdir, SAMPLING_BACKEND)
    spans = make_traces(keep_every=4)
    send_split(agent_ports, spans)
    kept = {format(s.context.trace_id, "032x") for s in spans if s.attributes.get("keep") == "yes"}
    assert len(kept) == TRACES // 4
    per_backend = []

    def arrived():
        per_backend[:] = [traces_in(read_jsonl(o)) for o in outs]
        return sum(sum(b.values()) for b in per_backend) >= len(kept) * SPANS_PER_TRACE

    wait_until(arrived, timeout=30, what="kept traces at the backends")
    time.sleep(1.5)  # a late partial decision would show up here
    per_backend[:] = [traces_in(read_jsonl(o)) for o in outs]
    got = defaultdict(list)
    for i, b in enumerate(per_backend):
        for tid, n in b.items():
            got[tid].append((i, n))
    assert set(got) == kept
    assert all(len(w) == 1 and w[0][1] == SPANS_PER_TRACE for w in got.values()), got
    assert len([b for b in per_backend if b]) == 3


def test_bad_config_is_refused_with_a_clear_error(spawn, workdir):
    cfg = AGENT.replace("PORT", str(free_port())).replace("static:\n        hostnames: [BACKENDS]", "k8s: {service: x}")
    a = spawn("bad", cfg, wait=False)
    rc = a.proc.wait(timeout=30)
    assert rc != 0
    assert "k8s" in a.logs(), a.logs()
