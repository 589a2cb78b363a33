"""A blocked backend: aiotel refuses with retryable codes, stays within its
memory limit, and delivers every acknowledged span once the backend recovers."""

import os
import signal
import time

import grpc
from conftest import free_port, read_jsonl, wait_until
from load import Load, RssSampler, make_spans, span_ids_in_file
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pipelines import back

LIMIT_MIB = 120

FRONT = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
processors:
  memory_limiter: {check_interval: 100ms, limit_mib: LIMIT, spike_limit_mib: 30}
  batch: {send_batch_size: 200, send_batch_max_size: 200, timeout: 50ms}
exporters:
  otlp/back:
    endpoint: 127.0.0.1:BACK_PORT
    tls: {insecure: true}
    timeout: 1s
    retry_on_failure: {initial_interval: 100ms, max_interval: 1s, max_elapsed_time: 0s}
    sending_queue: {queue_size: 8, num_consumers: 2}
service:
  pipeline_queue_size: 8
  pipelines:
    traces: {receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlp/back]}
"""


def probe_code(port, payload: bytes):
    """One raw export; returns the gRPC status code."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        call = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        try:
            call(payload, timeout=10)
            return grpc.StatusCode.OK
        except grpc.RpcError as e:
            return e.code()


def test_blocked_backend_backpressure(spawn, workdir):
    back_port, grpc_port = free_port(), free_port()
    out = workdir / "out.jsonl"
    backend = spawn("back", back(back_port, out))
    front = spawn(
        "front",
        FRONT.replace("BACK_PORT", str(back_port)).replace("GRPC_PORT", str(grpc_port)).replace("LIMIT", str(LIMIT_MIB)),
    )
    spans = make_spans(60000, payload_bytes=2048)
    probe_spans = make_spans(5)
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    probe = encode_spans(probe_spans).SerializeToString()
    rss = RssSampler(front.proc.pid)
    rss.start()

    load = Load(lambda: OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, timeout=60), spans, batch=50, threads=4)
    load.start()
    time.sleep(1.0)
    os.kill(backend.proc.pid, signal.SIGSTOP)
    try:
        # While the backend is frozen, queues fill and the client is told to retry.
        codes = []
        deadline = time.time() + 20
        while time.time() < deadline:
            c = probe_code(grpc_port, probe)
            codes.append(c)
            if c in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED):
                break
            time.sleep(0.2)
        assert codes[-1] in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED), codes
        time.sleep(3)
    finally:
        os.kill(backend.proc.pid, signal.SIGCONT)
    load.join(timeout=180)
    assert not load.alive(), "client did not finish"
    peak = rss.stop()

    acked = load.acked
    assert len(acked) > 0
    got = wait_until(lambda: (lambda ids: ids if acked <= ids else None)(span_ids_in_file(read_jsonl(out))), timeout=60,
                     what="every acknowledged span at the backend")
    missing = acked - got
    assert not missing, f"{len(missing)} acknowledged spans lost"
    refused = front.metric_sum("aiotel_receiver_refused_spans_total")
    assert refused > len(probe_spans), "the front never pushed back on the load"
    print(f"acked={len(acked)} client_failed={load.failed} refused={refused:.0f} peak_rss={peak:.1f}MiB limit={LIMIT_MIB}MiB")
    assert peak < LIMIT_MIB, f"peak RSS {peak:.1f} MiB over the {LIMIT_MIB} MiB limit"
