"""PII and secrets never leave aiotel: a real SDK client sends LLM spans and
Python logs full of them, and the file exporter must hold none."""

import json
import logging

from conftest import ROOT, free_port, read_jsonl, wait_until
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

PII = {
    "email": "jane.doe+billing@example-mail.co.uk",
    "email2": "r.ortiz@globex.io",
    "phone": "+1 (415) 555-0132",
    "phone_de": "+49 30 901820",
    "card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "ssn": "123-45-6789",
    "ipv4": "203.0.113.77",
    "ipv6": "2001:db8::8a2e:370:7334",
    "openai": "sk-proj-Qw3rTy7UiOp9AsDfGhJkLzXcVbNm1234567890abcd",
    "anthropic": "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQrStUvWxYzAA",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "github": "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "slack": "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "google": "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
    "stripe": "sk_live_51HaBcDeFgHiJkLmNoPqRsTu",
    "hf": "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "customer": "Acme Corp",
    "ticket": "TICKET-483920",
}
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
processors:
  redaction:
    allow_all_keys: true
    detectors:
      email: {action: hash}
    hmac_key: ${env:AIOTEL_REDACTION_KEY}
    dictionaries:
      - {name: customers, words: [Acme Corp, Globex Industries]}
    patterns:
      - {name: ticket, regex: 'TICKET-[0-9]{6}', action: mask}
  batch: {timeout: 50ms}
exporters:
  file: {path: OUT_PATH}
service:
  pipelines:
    traces: {receivers: [otlp], processors: [redaction, batch], exporters: [file]}
    logs: {receivers: [otlp], processors: [redaction, batch], exporters: [file]}
"""


def prompt(i):
    return (
        f"Hi, I'm Jane ({PII['email']}, call me on {PII['phone']} or {PII['phone_de']}). "
        f"My card {PII['card']} was charged twice; refund to {PII['iban']}. SSN {PII['ssn']}. "
        f"Server {PII['ipv4']} / {PII['ipv6']} leaks keys {PII['openai']} and {PII['aws']}. "
        f"We are {PII['customer']}, see {PII['ticket']}. Request #{i}."
    )


def start(spawn, workdir, key, name="aiotel"):
    port = free_port()
    out = workdir / f"{name}.jsonl"
    cfg = CONFIG.replace("GRPC_PORT", str(port)).replace("OUT_PATH", str(out))
    return spawn(name, cfg, env={"AIOTEL_REDACTION_KEY": key}), port, out


def send_llm_traffic(port, n=3):
    tp = TracerProvider(resource=Resource.create({"service.name": "chat", "owner.email": PII["email2"]}))
    tp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True)))
    tracer = tp.get_tracer("llm")
    for i in range(n):
        messages = [
            {"role": "system", "parts": [{"type": "text", "content": f"Secrets: {PII['anthropic']} {PII['github']}"}]},
            {"role": "user", "parts": [{"type": "text", "content": prompt(i)}]},
        ]
        with tracer.start_as_current_span(
            "chat gpt-4o",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.input.messages": json.dumps(messages),
                "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": f"Token {PII['jwt']} and {PEM}"}]}]),
                "enduser.email": PII["email"],
                "tokens.list": [PII["slack"], PII["google"], PII["stripe"], PII["hf"]],
            },
        ) as span:
            span.add_event("gen_ai.user.message", {"content": prompt(i)})
            span.add_event("gen_ai.choice", {"message": f"Reach {PII['email2']} at {PII['phone']}"})
    tp.shutdown()


def send_logs(port):
    lp = LoggerProvider(resource=Resource.create({"service.name": "chat"}))
    lp.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"127.0.0.1:{port}", insecure=True)))
    log = logging.getLogger("chat.audit")
    log.propagate = False
    handler = LoggingHandler(logger_provider=lp)
    log.addHandler(handler)
    log.warning("user said: %s", prompt(99), extra={"client.ip": PII["ipv4"], "card.number": PII["card"]})
    log.error({"prompt": prompt(100), "nested": [PII["aws"], {"k": PII["ssn"]}]})
    log.removeHandler(handler)
    lp.shutdown()


def test_no_planted_pii_leaves_and_json_still_parses(spawn, workdir):
    d, port, out = start(spawn, workdir, "k1")
    send_llm_traffic(port)
    send_logs(port)
    lines = wait_until(lambda: (lambda l: l if sum("resourceLogs" in x for x in l) >= 1 and sum("resourceSpans" in x for x in l) >= 1 else None)(read_jsonl(out)),
                       what="spans and logs in the file")
    wait_until(lambda: d.metric_sum("aiotel_exporter_sent_log_records_total") >= 2 and d.metric_sum("aiotel_exporter_sent_spans_total") >= 3,
               what="everything exported")
    text = out.read_text()
    for name, value in list(PII.items()) + [("pem", "BEGIN PRIVATE KEY"), ("pem-body", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7")]:
        assert value not in text, f"{name} leaked: {value}"
        assert json.dumps(value)[1:-1] not in text, f"{name} leaked (JSON-escaped)"
    # Every JSON-valued attribute still parses, and the placeholders are inside it.
    checked = 0
    for line in read_jsonl(out):
        for rs in line.get("resourceSpans", []):
            for ss in rs["scopeSpans"]:
                for sp in ss["spans"]:
                    for kv in sp["attributes"]:
                        if kv["key"] in ("gen_ai.input.messages", "gen_ai.output.messages"):
                            parsed = json.loads(kv["value"]["stringValue"])
                            assert isinstance(parsed, list) and parsed
                            checked += 1
    assert checked == 6
    assert "<CREDIT_CARD>" in text and "<OPENAI_KEY>" in text and "<CUSTOMERS>" in text and "<TICKET>" in text
    assert "<EMAIL:" in text, "emails are hashed, not masked"


def email_tokens(out):
    import re

    return re.findall(r"<EMAIL:[0-9a-f]+>", out.read_text())


def test_hash_tokens_are_stable_per_key(spawn, workdir):
    d1, p1, out1 = start(spawn, workdir, "first-key", "a")
    send_llm_traffic(p1, n=2)
    wait_until(lambda: d1.metric_sum("aiotel_exporter_sent_spans_total") >= 2, what="spans exported")
    tokens = email_tokens(out1)
    assert tokens
    # The same email in different spans and places hashes to one token.
    assert len(set(tokens)) == 2, set(tokens)  # PII['email'] and PII['email2']
    d2, p2, out2 = start(spawn, workdir, "second-key", "b")
    send_llm_traffic(p2, n=1)
    wait_until(lambda: d2.metric_sum("aiotel_exporter_sent_spans_total") >= 1, what="spans exported")
    assert set(email_tokens(out2)).isdisjoint(set(tokens)), "a different key must give different tokens"


COLLECTOR_PIPELINE = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
exporters:
  file: {path: OUT_PATH}
service:
  pipelines:
    traces: {receivers: [otlp], processors: [redaction], exporters: [file]}
"""


def test_collector_readme_config_unchanged(spawn, workdir):
    import subprocess

    from conftest import Aiotel

    port = free_port()
    out = workdir / "collector.jsonl"
    readme = ROOT / "processors" / "redaction" / "tests" / "fixtures" / "collector_readme_example.yaml"
    a = Aiotel(workdir, "collector", COLLECTOR_PIPELINE.replace("GRPC_PORT", str(port)).replace("OUT_PATH", str(out)))
    a.proc = subprocess.Popen(a.args(readme), stdout=open(a.log_path, "ab"), stderr=subprocess.STDOUT)
    try:
        a.wait_ready()
        tp = TracerProvider(resource=Resource.create({"service.name": "svc"}))
        tp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True)))
        with tp.get_tracer("t").start_as_current_span("s", attributes={
            "id": "42", "name": "card holder", "description": "paid with 4111111111111111",
            "group": "ok", "safe_attribute": "4111111111111111", "auth_token": "x", "unlisted": "gone",
            "mail": "a@mycompany.com"}):
            pass
        tp.shutdown()
        line = wait_until(lambda: read_jsonl(out), what="span written")[0]
        attrs = {kv["key"]: kv["value"] for kv in line["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]}
        # Documented result: unlisted keys are removed, ignored keys pass untouched,
        # blocked values are replaced by their md5 hash, and the debug summary lists it all.
        assert "unlisted" not in attrs and "auth_token" not in attrs and "mail" not in attrs
        assert attrs["safe_attribute"]["stringValue"] == "4111111111111111"
        assert "4111111111111111" not in attrs["description"]["stringValue"]
        assert attrs["id"]["stringValue"] == "42" and attrs["group"]["stringValue"] == "ok"
        assert "redaction.redacted.keys" in attrs and "redaction.masked.keys" in attrs
        assert "description" in attrs["redaction.masked.keys"]["stringValue"]
    finally:
        a.proc.kill()
        a.proc.wait()
