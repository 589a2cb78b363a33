"""The otlphttp exporter, in both encodings and with each compression, into a
second aiotel's HTTP receiver: every span arrives intact."""

import pytest
from conftest import free_port, read_jsonl, wait_until
from load import make_spans, span_ids_in_file
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

FRONT = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:BACK_PORT
    encoding: ENCODING
    compression: COMPRESSION
    headers: {x-tenant: t1}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [otlphttp]}
"""

BACK = """
receivers:
  otlp:
    protocols:
      http: {endpoint: "127.0.0.1:BACK_PORT"}
exporters:
  file: {path: OUT_PATH}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [file]}
"""


@pytest.mark.parametrize("encoding,compression", [("proto", "gzip"), ("json", "zstd"), ("json", "none")])
def test_otlphttp_exporter(spawn, workdir, encoding, compression):
    back_port, grpc_port = free_port(), free_port()
    out = workdir / "out.jsonl"
    back = spawn("back", BACK.replace("BACK_PORT", str(back_port)).replace("OUT_PATH", str(out)))
    front = spawn("front", FRONT.replace("BACK_PORT", str(back_port)).replace("GRPC_PORT", str(grpc_port))
                  .replace("ENCODING", encoding).replace("COMPRESSION", compression))
    spans = make_spans(25)
    assert OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True).export(spans).name == "SUCCESS"
    want = {format(s.context.span_id, "016x") for s in spans}
    wait_until(lambda: span_ids_in_file(read_jsonl(out)) == want, what="spans at the back")
    wait_until(lambda: front.metric_sum("aiotel_exporter_sent_spans_total") == 25, what="sent count")
    assert back.metric_sum("aiotel_receiver_accepted_spans_total", transport="http") == 25
