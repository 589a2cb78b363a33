"""200,000 traces into tail_sampling with a 10 s decision_wait and a 256 MiB
buffer budget: RSS stays under the budget plus a documented overhead, every
trace is accounted for, and the kept traces are exactly the policy's."""

import os
import time

import grpc
from conftest import free_port, read_jsonl, wait_until
from load import RssSampler
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

BUDGET_MIB = 256
# Beyond the buffer: the runtime, decode buffers of in-flight requests and allocator slack.
OVERHEAD_MIB = 96
TRACES = 200_000
PER_REQUEST = 500
BLOB = "x" * 4000  # ~4 KB per span: 200k traces (~800 MB) overflow the budget within the decision wait

CONFIG = f"""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:GRPC_PORT", max_recv_msg_size_mib: 16}}
processors:
  tail_sampling:
    decision_wait: 10s
    num_traces: 250000
    max_buffer_bytes: {BUDGET_MIB << 20}
    policies:
      - {{name: flagged, type: string_attribute, string_attribute: {{key: keep, values: ["yes"]}}}}
exporters:
  file: {{path: OUT_PATH}}
service:
  pipelines:
    traces: {{receivers: [otlp], processors: [tail_sampling], exporters: [file]}}
"""


def request(start):
    spans = []
    for i in range(start, start + PER_REQUEST):
        attrs = [KeyValue(key="gen_ai.input.messages", value=AnyValue(string_value=BLOB))]
        if i % 100 == 0:
            attrs.append(KeyValue(key="keep", value=AnyValue(string_value="yes")))
        spans.append(Span(trace_id=i.to_bytes(16, "big"), span_id=(i + 1).to_bytes(8, "big"), name="chat",
                          start_time_unix_nano=1, end_time_unix_nano=2, attributes=attrs))
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])]).SerializeToString()


def stat(d, name):
    return d.metric_sum("aiotel_processor_stat", stat=name)


def test_two_hundred_thousand_traces_within_budget(spawn, workdir):
    port = free_port()
    out = workdir / "kept.jsonl"
    d = spawn("mem", CONFIG.replace("GRPC_PORT", str(port)).replace("OUT_PATH", str(out)))
    rss = RssSampler(d.proc.pid, interval=0.02)
    rss.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 64 << 20)]) as ch:
        call = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        for start in range(1, TRACES + 1, PER_REQUEST):
            body = request(start)
            while True:
                try:
                    call(body, timeout=60)
                    break
                except grpc.RpcError as e:
                    assert e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED), e
                    time.sleep(0.1)
    # Let the 10 s decision wait pass for what is still buffered.
    wait_until(lambda: stat(d, "traces_buffered") == 0 and stat(d, "traces_received") == TRACES, timeout=60,
               what="every trace decided")
    peak = rss.stop()

    received, sampled, dropped = stat(d, "traces_received"), stat(d, "traces_sampled"), stat(d, "traces_dropped")
    evicted = stat(d, "traces_evicted_early")
    assert sampled + dropped == received == TRACES, (sampled, dropped, received)
    assert evicted > 0, "the budget must have been reached"
    want = {i for i in range(1, TRACES + 1) if i % 100 == 0}
    assert sampled == len(want)

    def kept_ids():
        ids = set()
        for line in read_jsonl(out):
            for rs in line.get("resourceSpans", []):
                for ss in rs["scopeSpans"]:
                    ids.update(int(sp["traceId"], 16) for sp in ss["spans"])
        return ids

    got = wait_until(lambda: (lambda k: k if len(k) >= len(want) else None)(kept_ids()), what="kept traces written")
    assert got == want
    print(f"peak RSS {peak:.0f} MiB (budget {BUDGET_MIB} + overhead {OVERHEAD_MIB}); evicted early {evicted:.0f}; kept {sampled:.0f}")
    assert peak < BUDGET_MIB + OVERHEAD_MIB, f"peak RSS {peak:.0f} MiB"
