"""OTLP over TLS (rustls) on both transports, with the SDK as a TLS client,
and aiotel's own OTLP exporter talking TLS to a second aiotel."""

import subprocess

import grpc
import requests
from conftest import free_port, read_jsonl, wait_until
from load import make_spans, span_ids_in_file
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

TLS_FRONT = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:GRPC_PORT"
        tls: {cert_file: CERT, key_file: KEY}
      http:
        endpoint: "127.0.0.1:HTTP_PORT"
        tls: {cert_file: CERT, key_file: KEY}
exporters:
  otlp/back:
    endpoint: localhost:BACK_PORT
    tls: {ca_file: CA_FILE}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [otlp/back]}
"""

TLS_BACK = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:BACK_PORT"
        tls: {cert_file: CERT, key_file: KEY}
exporters:
  file: {path: OUT_PATH}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [file]}
"""


def make_cert(dir):
    """A CA and a localhost certificate it signed; returns (ca, cert, key)."""
    ca_key, ca, key, csr, cert = (dir / n for n in ("ca.key", "ca.pem", "key.pem", "cert.csr", "cert.pem"))
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=aiotel test CA",
        "-keyout", str(ca_key), "-out", str(ca))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(csr))
    ext = dir / "ext.cnf"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-days", "2",
        "-extfile", str(ext), "-out", str(cert))
    return ca, cert, key


def test_tls_on_both_transports_and_tls_export(spawn, workdir):
    ca, cert, key = make_cert(workdir)
    back_port, grpc_port, http_port = free_port(), free_port(), free_port()
    out = workdir / "out.jsonl"
    sub = lambda t: (t.replace("CA_FILE", str(ca)).replace("CERT", str(cert)).replace("KEY", str(key)).replace("BACK_PORT", str(back_port))
                     .replace("GRPC_PORT", str(grpc_port)).replace("HTTP_PORT", str(http_port)).replace("OUT_PATH", str(out)))
    spawn("back", sub(TLS_BACK))
    front = spawn("front", sub(TLS_FRONT))

    creds = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes())
    grpc_spans = make_spans(4)
    exp = OTLPSpanExporter(endpoint=f"localhost:{grpc_port}", credentials=creds, timeout=10)
    assert exp.export(grpc_spans).name == "SUCCESS"

    http_spans = make_spans(3)
    body = encode_spans(http_spans).SerializeToString()
    r = requests.post(f"https://127.0.0.1:{http_port}/v1/traces", data=body, verify=str(ca),
                      headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    assert r.status_code == 200, r.text
    # Plaintext on a TLS port is refused.
    try:
        plain = requests.post(f"http://127.0.0.1:{http_port}/v1/traces", data=body,
                              headers={"Content-Type": "application/x-protobuf"}, timeout=5)
        assert plain.status_code != 200
    except requests.exceptions.ConnectionError:
        pass

    want = {format(s.context.span_id, "016x") for s in grpc_spans + http_spans}
    got = wait_until(lambda: (lambda ids: ids if want <= ids else None)(span_ids_in_file(read_jsonl(out))),
                     what=f"spans through the TLS hop; front log: {front.logs()[-1500:]}")
    assert want <= got
