"""Malformed, oversized and hostile input gets a clear 4xx or the matching
gRPC code, is counted, and the daemon keeps serving."""

import gzip
import json

import grpc
import pytest
import requests
from conftest import free_port, read_jsonl, wait_until
from load import make_spans
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from otlp_util import proto_to_otlp_json

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT", max_recv_msg_size_mib: 1}
      http: {endpoint: "127.0.0.1:HTTP_PORT", max_request_body_size: 1048576}
exporters:
  file: {path: OUT_PATH}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [file]}
"""

GOOD = encode_spans(make_spans(3))
GOOD_BYTES = GOOD.SerializeToString()
TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def bad_utf8() -> bytes:
    spans = make_spans(1)
    req = encode_spans(spans)
    req.resource_spans[0].scope_spans[0].spans[0].name = "ZZZZZZZZ"
    raw = req.SerializeToString()
    assert raw.count(b"ZZZZZZZZ") == 1
    return raw.replace(b"ZZZZZZZZ", b"\xff\xfe\xfd\xfc\xc3\x28\xa0\xa1")


def gzip_bomb() -> bytes:
    # 64 MiB of zeros compress to about 64 KiB: far under the body limit, far over it once inflated.
    return gzip.compress(b"\0" * (64 << 20), compresslevel=9)


HTTP_CASES = {
    "garbage protobuf": ({"Content-Type": "application/x-protobuf"}, b"\x0a\xff\xff\xff\xff\x0f garbage", 400),
    "truncated protobuf": ({"Content-Type": "application/x-protobuf"}, GOOD_BYTES[: len(GOOD_BYTES) // 2], 400),
    "invalid json": ({"Content-Type": "application/json"}, b'{"resourceSpans": [ {"resource": ', 400),
    "wrong json shape": ({"Content-Type": "application/json"}, b'{"resourceSpans": "nope"}', 400),
    "wrong content type": ({"Content-Type": "text/plain"}, GOOD_BYTES, 415),
    "oversized body": ({"Content-Type": "application/x-protobuf"}, b"\0" * (2 << 20), 413),
    "gzip bomb": ({"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, gzip_bomb(), 413),
    "corrupt gzip": ({"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, b"\x1f\x8b\x08\x00garbage", 400),
    "unknown encoding": ({"Content-Type": "application/x-protobuf", "Content-Encoding": "br"}, GOOD_BYTES, 415),
    "invalid utf-8": ({"Content-Type": "application/x-protobuf"}, bad_utf8(), 400),
}

GRPC_CASES = {
    "garbage protobuf": (b"\x0a\xff\xff\xff\xff\x0f garbage", grpc.StatusCode.INVALID_ARGUMENT),
    "truncated protobuf": (GOOD_BYTES[: len(GOOD_BYTES) // 2], grpc.StatusCode.INVALID_ARGUMENT),
    "invalid utf-8": (bad_utf8(), grpc.StatusCode.INVALID_ARGUMENT),
    "oversized message": (b"\0" * (2 << 20), grpc.StatusCode.RESOURCE_EXHAUSTED),
}


@pytest.fixture
def daemon(spawn, workdir):
    grpc_port, http_port = free_port(), free_port()
    out = workdir / "out.jsonl"
    cfg = CONFIG.replace("GRPC_PORT", str(grpc_port)).replace("HTTP_PORT", str(http_port)).replace("OUT_PATH", str(out))
    return spawn("daemon", cfg), grpc_port, http_port, out


def test_bad_http_input(daemon):
    d, _, http_port, out = daemon
    url = f"http://127.0.0.1:{http_port}/v1/traces"
    for name, (headers, body, want) in HTTP_CASES.items():
        r = requests.post(url, data=body, headers=headers, timeout=30)
        assert r.status_code == want, f"{name}: {r.status_code} {r.text}"
        assert r.text, f"{name}: the error must say what is wrong"
        # Still serving: a good request right after succeeds.
        ok = requests.post(url, data=GOOD_BYTES, headers={"Content-Type": "application/x-protobuf"}, timeout=10)
        assert ok.status_code == 200, f"after {name}: {ok.status_code}"
    # JSON error bodies are google.rpc.Status in JSON.
    r = requests.post(url, data=b"{", headers={"Content-Type": "application/json"}, timeout=10)
    assert json.loads(r.text)["code"] == 3 and "malformed OTLP JSON" in json.loads(r.text)["message"]
    assert requests.get(url, timeout=10).status_code == 405
    n = len(HTTP_CASES) + 0
    wait_until(lambda: len(read_jsonl(out)) >= 1, what="good requests written")
    accepted = d.metric_sum("aiotel_receiver_accepted_spans_total", transport="http")
    assert accepted == 3 * n, accepted
    assert d.proc.poll() is None


def test_bad_grpc_input(daemon):
    d, grpc_port, _, _ = daemon
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as ch:
        call = ch.unary_unary(TRACES)
        for name, (body, want) in GRPC_CASES.items():
            with pytest.raises(grpc.RpcError) as e:
                call(body, timeout=10)
            assert e.value.code() == want, f"{name}: {e.value.code()} {e.value.details()}"
            assert call(GOOD_BYTES, timeout=10) is not None, f"after {name}"
        # Logs are not configured on this receiver: the service does not exist.
        with pytest.raises(grpc.RpcError) as e:
            ch.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export")(b"", timeout=10)
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert d.metric_sum("aiotel_receiver_accepted_spans_total", transport="grpc") == 3 * len(GRPC_CASES)
    assert d.proc.poll() is None


def test_partial_success_for_invalid_ids(daemon):
    d, _, http_port, out = daemon
    body = proto_to_otlp_json(GOOD)
    spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[0]["traceId"] = "abcd"  # 2 bytes: not a valid trace id
    r = requests.post(f"http://127.0.0.1:{http_port}/v1/traces", data=json.dumps(body),
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 200
    ps = r.json()["partialSuccess"]
    assert int(ps["rejectedSpans"]) == 1 and "wrong length" in ps["errorMessage"]
    assert d.metric_sum("aiotel_receiver_accepted_spans_total") == 2
    assert d.metric_sum("aiotel_receiver_refused_spans_total") == 1
