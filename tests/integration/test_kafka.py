"""The kafka exporter and receiver against a real Kafka-protocol broker (tansu),
inspected with confluent-kafka (librdkafka)."""

import collections
import signal
import time

import pytest
import requests
from confluent_kafka import Producer

from conftest import free_port, wait_until
from kafka_peer import Broker, export_request, file_spans, otlp_json_traces, spans_of


@pytest.fixture
def broker(workdir):
    b = Broker(workdir, free_port()).start()
    yield b
    b.stop()


def exporter_config(http_port, brokers, topic, extra=""):
    return f"""
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http_port}"}}
exporters:
  kafka:
    brokers: ["{brokers}"]
    traces: {{topic: {topic}}}
    partition_traces_by_id: true
    record_headers: {{tier: edge}}
    producer: {{compression: zstd}}
    retry_on_failure: {{initial_interval: 200ms, max_interval: 1s}}
{extra}
service:
  pipelines:
    traces: {{receivers: [otlp], exporters: [kafka]}}
"""


def consumer_config(brokers, topic, out, group="aiotel-test", extra=""):
    return f"""
receivers:
  kafka:
    brokers: ["{brokers}"]
    traces: {{topics: [{topic}]}}
    group_id: {group}
    initial_offset: earliest
    autocommit: {{enable: true, interval: 200ms}}
{extra}
processors:
  batch: {{}}
exporters:
  # No sending queue: the pipeline's ack (and so the commit) waits for the write.
  file: {{path: "{out}", append: true, sending_queue: {{enabled: false}}}}
service:
  pipelines:
    traces: {{receivers: [kafka], processors: [batch], exporters: [file]}}
"""


def make_traces(n_traces, spans_per_trace):
    """Spans of `n_traces` traces, interleaved so every request mixes traces."""
    spans = []
    for j in range(spans_per_trace):
        for i in range(n_traces):
            spans.append((f"{i + 1:032x}", f"{i + 1:08x}{j:08x}", None))
    return spans


def post(port, spans, service="svc"):
    r = requests.post(f"http://127.0.0.1:{port}/v1/traces", json=otlp_json_traces(spans, service), timeout=30)
    return r.status_code


def test_spans_of_a_trace_land_in_one_partition_and_are_consumed_once(broker, spawn, workdir):
    broker.create_topic("spans", 4)
    http = free_port()
    spawn("exporter", exporter_config(http, broker.bootstrap, "spans"))
    spans = make_traces(n_traces=40, spans_per_trace=5)
    # Each request holds spans of many traces, and every trace is spread over several requests.
    for k in range(0, len(spans), 25):
        assert post(http, spans[k:k + 25]) == 200

    msgs = wait_until(
        lambda: (lambda m: m if sum(len(spans_of(v)) for _, _, v, _ in m) >= len(spans) else None)(
            broker.read_all("spans", idle=1.0, headers=True)
        ),
        timeout=60, what="every span in the topic",
    )
    partitions_of = collections.defaultdict(set)
    seen = []
    for part, key, value, headers in msgs:
        assert headers == {"tier": b"edge"}
        got = spans_of(value)
        assert {t for t, _, _ in got} == {key.decode()}, "a message holds exactly the trace of its key"
        for t, s, service in got:
            partitions_of[t].add(part)
            seen.append(s)
            assert service == "svc"
    assert len(partitions_of) == 40
    assert all(len(p) == 1 for p in partitions_of.values()), partitions_of
    assert len({next(iter(p)) for p in partitions_of.values()}) > 1, "keys spread over partitions"
    assert sorted(seen) == sorted(s for _, s, _ in spans)

    # A second aiotel consumes the topic into a file: nothing missing, nothing twice.
    out = workdir / "consumed.jsonl"
    consumer = spawn("consumer", consumer_config(broker.bootstrap, "spans", out))
    wait_until(lambda: len(file_spans(out)) >= len(spans), timeout=60, what="consumed spans")
    time.sleep(1.0)
    assert consumer.metric_sum("aiotel_receiver_accepted_spans_total", receiver="kafka") == len(spans)
    assert consumer.metric_sum("aiotel_receiver_protocol_errors_total", transport="kafka") == 0
    assert consumer.stop() == 0
    got = file_spans(out)
    assert len(got) == len(spans)
    assert sorted(got) == sorted(s for _, s, _ in spans)


def test_consumer_killed_mid_stream_loses_nothing(broker, spawn, workdir):
    broker.create_topic("stream", 4)
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    expected = []
    n_messages = 3000
    for m in range(n_messages):
        pair = [(f"{m + 1:032x}", f"{m + 1:08x}{k:08x}") for k in range(4)]
        expected += [s for _, s in pair]
        p.produce("stream", key=pair[0][0].encode(), value=export_request(pair))
        if m % 500 == 0:
            p.poll(0)
    assert p.flush(30) == 0

    out = workdir / "stream.jsonl"
    cfg = consumer_config(broker.bootstrap, "stream", out, group="killed")
    first = spawn("consumer", cfg)
    # Kill once the group has committed some progress, while messages are still coming.
    wait_until(lambda: sum(max(o, 0) for o in broker.committed("killed", "stream").values()) > 0,
               timeout=60, interval=0.05, what="a first commit")
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait()
    at_kill = len(file_spans(out))
    assert at_kill < len(expected), "the consumer must be killed mid-stream"
    committed_at_kill = sum(max(o, 0) for o in broker.committed("killed", "stream").values())
    # A line the kill tore was never acknowledged, so it is delivered again; drop the torn tail.
    data = out.read_bytes()
    if data and not data.endswith(b"\n"):
        out.write_bytes(data[: data.rfind(b"\n") + 1])

    second = spawn("consumer2", cfg)
    try:
        wait_until(lambda: len(set(file_spans(out))) >= len(expected), timeout=120, what="every span after restart")
    except TimeoutError:
        have = set(file_spans(out))
        lost = sorted(set(expected) - have)
        raise AssertionError(f"{len(lost)} spans missing, e.g. {lost[:5]}; committed "
                             f"{broker.committed('killed', 'stream')}\n--- first:\n{first.logs()[-3000:]}"
                             f"\n--- second:\n{second.logs()[-6000:]}")
    time.sleep(1.0)
    got = file_spans(out)
    counts = collections.Counter(got)
    missing = set(expected) - set(counts)
    duplicates = sum(c - 1 for c in counts.values())
    print(f"kafka SIGKILL run: {len(expected)} spans in {n_messages} messages, {at_kill} spans written and "
          f"{committed_at_kill} messages committed before the kill, {len(missing)} missing, {duplicates} duplicates")
    assert not missing
    assert set(counts) == set(expected)
    # At-least-once: only what was written but not yet committed at the kill comes again.
    assert 0 < committed_at_kill
    assert duplicates <= at_kill - committed_at_kill * 4


def test_malformed_messages_are_counted_skipped_and_committed(broker, spawn, workdir):
    broker.create_topic("mixed", 1)
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    p.produce("mixed", value=export_request([("a" * 32, "0000000000000001")]))
    p.produce("mixed", value=b"\xff\xfe this is not protobuf \x00\x01")
    p.produce("mixed", value=b"\x0a\xff\xff\xff\xff\x0f")  # a length prefix far past the end
    p.produce("mixed", value=export_request([("b" * 32, "0000000000000002")]))
    assert p.flush(30) == 0

    out = workdir / "mixed.jsonl"
    c = spawn("consumer", consumer_config(broker.bootstrap, "mixed", out, group="mixed"))
    wait_until(lambda: len(file_spans(out)) >= 2, timeout=60, what="the valid spans")
    assert sorted(file_spans(out)) == ["0000000000000001", "0000000000000002"]
    wait_until(lambda: c.metric_sum("aiotel_receiver_protocol_errors_total", receiver="kafka", reason="malformed") == 2,
               timeout=10, what="malformed count")
    assert c.metric_sum("aiotel_receiver_accepted_spans_total", receiver="kafka") == 2
    assert "skipping a message that cannot be decoded" in c.logs()
    assert c.stop() == 0
    # Skipped messages are committed too: the group's offset is past all four.
    assert broker.committed("mixed", "mixed") == {0: 4}


def test_broker_down_queue_bounded_drops_counted_then_delivered(broker, spawn, workdir):
    # The exporter starts while nothing listens on the broker's port.
    down = Broker(workdir, free_port())
    http = free_port()
    extra = """    timeout: 1s
    sending_queue: {queue_size: 3, num_consumers: 1}"""
    exp = spawn("exporter", exporter_config(http, down.bootstrap, "late", extra))
    codes = []
    for i in range(12):
        codes.append(post(http, [(f"{i + 1:032x}", f"{i + 1:016x}", None)]))
    accepted = [i for i, c in enumerate(codes) if c == 200]
    refused = [i for i, c in enumerate(codes) if c != 200]
    assert refused and set(codes[j] for j in refused) == {503}, codes
    assert 3 <= len(accepted) <= 5, codes  # the queue (3) plus the batch in hand
    m = exp.metrics()
    cap = [v for k, v in m.items() if k.startswith("aiotel_queue_capacity") and 'component="kafka"' in k]
    size = [v for k, v in m.items() if k.startswith("aiotel_queue_size") and 'component="kafka"' in k]
    assert cap == [3.0] and size[0] <= 3
    assert exp.metric_sum("aiotel_exporter_enqueue_failed_spans_total", exporter="kafka") == len(refused)
    assert exp.metric_sum("aiotel_exporter_sent_spans_total", exporter="kafka") == 0
    # Let at least one attempt time out (timeout: 1s): a retryable failure, not a drop.
    wait_until(lambda: "will retry" in exp.logs(), timeout=10, what="a retry")
    assert exp.metric_sum("aiotel_exporter_send_failed_spans_total", exporter="kafka") == 0

    # The broker comes up: retries deliver everything that was accepted.
    down.start()
    try:
        down.create_topic("late", 2)
        wait_until(lambda: exp.metric_sum("aiotel_exporter_sent_spans_total", exporter="kafka") == len(accepted),
                   timeout=60, what="queued spans delivered after the broker came up")
        got = sorted(s for _, _, v in down.read_all("late", expect_messages=len(accepted)) for _, s, _ in spans_of(v))
        assert set(got) == {f"{i + 1:016x}" for i in accepted}
        assert exp.metric_sum("aiotel_exporter_send_failed_spans_total", exporter="kafka") == 0
    finally:
        down.stop()


def test_oversized_batches_split_and_oversized_span_counted(broker, spawn, workdir):
    broker.create_topic("big", 2)
    http = free_port()
    extra = "    producer: {max_message_bytes: 2000}\n"
    cfg = exporter_config(http, broker.bootstrap, "big", "").replace("partition_traces_by_id: true",
                                                                      "partition_traces_by_id: false")
    cfg = cfg.replace("    producer: {compression: zstd}\n", extra)
    exp = spawn("exporter", cfg)
    spans = [(f"{1:032x}", f"{i + 1:016x}", {"pad": "x" * 300}) for i in range(20)]
    spans.append((f"{1:032x}", f"{99:016x}", {"pad": "y" * 5000}))
    assert post(http, spans) == 200
    wait_until(lambda: exp.metric_sum("aiotel_exporter_sent_spans_total", exporter="kafka") == 20,
               timeout=30, what="the spans that fit")
    assert exp.metric_sum("aiotel_exporter_send_failed_spans_total", exporter="kafka") == 1
    msgs = broker.read_all("big", expect_messages=None, idle=1.5)
    assert len(msgs) >= 4, "a 7 KB batch is split into messages under 2000 bytes"
    assert all(len(v) <= 2000 for _, _, v in msgs)
    got = sorted(s for _, _, v in msgs for _, s, _ in spans_of(v))
    assert got == [f"{i + 1:016x}" for i in range(20)]


def test_bad_config_is_rejected_with_a_clear_message(workdir):
    import subprocess

    from conftest import aiotel_bin

    cfg = workdir / "bad.yaml"
    cfg.write_text("""
receivers:
  kafka: {message_marking: {after: false}, initial_offset: newest}
exporters:
  kafka: {producer: {required_acks: 2}, sasl: {}}
service:
  pipelines:
    traces: {receivers: [kafka], exporters: [kafka]}
""")
    r = subprocess.run([aiotel_bin(), "validate", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    text = r.stdout + r.stderr
    assert "receivers::kafka" in text and "exporters::kafka" in text, text


def test_logs_as_otlp_json_through_the_default_topic(broker, spawn, workdir):
    broker.create_topic("otlp_logs", 2)
    http = free_port()
    spawn("exporter", f"""
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http}"}}
exporters:
  kafka: {{brokers: ["{broker.bootstrap}"], logs: {{encoding: otlp_json}}}}
service:
  pipelines:
    logs: {{receivers: [otlp], exporters: [kafka]}}
""")
    out = workdir / "logs.jsonl"
    spawn("consumer", f"""
receivers:
  kafka: {{brokers: ["{broker.bootstrap}"], encoding: otlp_json, initial_offset: earliest}}
exporters:
  file: {{path: "{out}", sending_queue: {{enabled: false}}}}
service:
  pipelines:
    logs: {{receivers: [kafka], exporters: [file]}}
""")
    body = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
                              "scopeLogs": [{"logRecords": [
                                  {"timeUnixNano": "1700000000000000123", "severityNumber": 17,
                                   "body": {"stringValue": f"line {i}"}} for i in range(3)]}]}]}
    r = requests.post(f"http://127.0.0.1:{http}/v1/logs", json=body, timeout=30)
    assert r.status_code == 200
    raw = broker.read_all("otlp_logs", expect_messages=1)
    assert raw[0][2].startswith(b'{"resourceLogs":'), raw[0][2][:40]
    import json

    def bodies():
        docs = [json.loads(l) for l in out.read_text().splitlines() if l.strip()] if out.exists() else []
        return [lr["body"]["stringValue"] for d in docs for rl in d["resourceLogs"]
                for sl in rl["scopeLogs"] for lr in sl["logRecords"]]

    wait_until(lambda: len(bodies()) >= 3, timeout=60, what="logs consumed")
    assert bodies() == ["line 0", "line 1", "line 2"]
    doc = json.loads(out.read_text().splitlines()[0])
    assert doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"] == "1700000000000000123"


def test_refused_messages_are_offered_again_until_accepted(broker, spawn, workdir):
    """The pipeline refuses while the backend is down; nothing is marked or lost meanwhile."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    broker.create_topic("refused", 2)
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    expected = []
    for m in range(20):
        pair = [(f"{m + 1:032x}", f"{m + 1:08x}{k:08x}") for k in range(3)]
        expected += [s for _, s in pair]
        p.produce("refused", value=export_request(pair))
    assert p.flush(30) == 0

    backend_port = free_port()
    out = workdir / "unused.jsonl"
    cfg = consumer_config(broker.bootstrap, "refused", out, group="refused").replace(
        f'file: {{path: "{out}", append: true, sending_queue: {{enabled: false}}}}',
        f'otlphttp: {{endpoint: "http://127.0.0.1:{backend_port}", compression: none, '
        f'sending_queue: {{enabled: false}}, retry_on_failure: {{enabled: false}}}}',
    ).replace("exporters: [file]", "exporters: [otlphttp]")
    c = spawn("consumer", cfg)
    wait_until(lambda: "offering it again" in c.logs(), timeout=30, what="a refused message")
    assert c.metric_sum("aiotel_receiver_refused_spans_total", receiver="kafka") > 0
    assert all(o < 0 for o in broker.committed("refused", "refused").values()), "nothing marked while refused"

    got = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self):
            req = ExportTraceServiceRequest()
            req.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
            got.extend(s.span_id.hex() for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", backend_port), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        wait_until(lambda: set(got) >= set(expected), timeout=60, what="every span once the backend is up")
        assert c.stop() == 0
        assert set(got) == set(expected)
        assert sum(max(o, 0) for o in broker.committed("refused", "refused").values()) == 20
    finally:
        server.shutdown()
