"""Per-pipeline `acknowledgements`: with `durable`, a receiver answers only
once every exporter has delivered the data (or written it to a persistent
queue); with the default `accepted`, as soon as the sending queues took it."""

import time

import grpc
from conftest import free_port, read_jsonl, wait_until
from fluent_util import Conn, event_time, forward_mode, new_chunk
from load import make_spans, span_ids_in_file
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from pipelines import back

FRONT = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
  fluentforward: {{endpoint: "127.0.0.1:{fluent}"}}
processors:
  batch: {{send_batch_size: 100, timeout: 20ms}}
exporters:
  otlp/back:
    endpoint: 127.0.0.1:{back}
    tls: {{insecure: true}}
    timeout: 1s
    retry_on_failure: {{initial_interval: 50ms, max_interval: 200ms, max_elapsed_time: 0s}}
    sending_queue: {{queue_size: 100}}
  otlp/never:
    endpoint: 127.0.0.1:{never}
    tls: {{insecure: true}}
    timeout: 1s
    retry_on_failure: {{initial_interval: 50ms, max_interval: 200ms, max_elapsed_time: 1s}}
service:
  pipelines:
    traces: {{receivers: [otlp], processors: [batch], exporters: [{traces_exporters}]{ack}}}
    logs: {{receivers: [fluentforward], exporters: [otlp/back]{ack}}}
"""


def start_front(spawn, mode, fanout_to_dead=False):
    ports = {k: free_port() for k in ("grpc", "fluent", "back", "never")}
    ack = f", acknowledgements: {mode}" if mode else ""
    exporters = "otlp/back, otlp/never" if fanout_to_dead else "otlp/back"
    return spawn("front", FRONT.format(**ports, ack=ack, traces_exporters=exporters)), ports


def request(n, service):
    spans = make_spans(n, service=service)
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=encode_spans(spans).resource_spans), spans


def export_future(port, req):
    ch = grpc.insecure_channel(f"127.0.0.1:{port}")
    call = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                          request_serializer=lambda m: m.SerializeToString(),
                          response_deserializer=trace_service_pb2.ExportTraceServiceResponse.FromString)
    return ch, call.future(req, timeout=60)


def test_durable_otlp_answer_waits_for_delivery(spawn, workdir):
    front, ports = start_front(spawn, "durable")
    req, spans = request(20, "durable")
    ch, fut = export_future(ports["grpc"], req)
    time.sleep(2)
    assert not fut.done(), "answered while the backend was down and the data only in memory"
    out = workdir / "out.jsonl"
    spawn("back", back(ports["back"], out))
    fut.result(timeout=30)
    # Answered after delivery: the spans are at the backend already.
    ids = span_ids_in_file(read_jsonl(out))
    assert {format(s.context.span_id, "016x") for s in spans} <= ids
    ch.close()


def test_accepted_otlp_answer_does_not_wait_for_the_backend(spawn, workdir):
    front, ports = start_front(spawn, None)
    req, _ = request(20, "accepted")
    ch, fut = export_future(ports["grpc"], req)
    fut.result(timeout=5)
    ch.close()


def test_durable_fan_out_takes_the_worst_outcome(spawn, workdir):
    """One exporter delivers, the other gives up: the client is told to retry."""
    front, ports = start_front(spawn, "durable", fanout_to_dead=True)
    spawn("back", back(ports["back"], workdir / "out.jsonl"))
    req, _ = request(5, "fanout")
    ch, fut = export_future(ports["grpc"], req)
    try:
        fut.result(timeout=30)
        raise AssertionError("answered OK although otlp/never could not deliver")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAVAILABLE, e
    assert read_jsonl(workdir / "out.jsonl"), "the working exporter still delivered"
    ch.close()


def test_durable_fluent_chunk_ack_waits_for_delivery(spawn, workdir):
    front, ports = start_front(spawn, "durable")
    c = Conn(("127.0.0.1", ports["fluent"]))
    chunk = new_chunk()
    c.send(forward_mode("durable", [(event_time(1_700_000_000, 5), {"log": "held"})], chunk=chunk))
    assert c.read(timeout=2) is None, "chunk acked while the backend was down"
    out = workdir / "out.jsonl"
    spawn("back", back(ports["back"], out))
    assert c.read(timeout=30) == {"ack": chunk}
    assert "held" in out.read_text()
    c.close()
