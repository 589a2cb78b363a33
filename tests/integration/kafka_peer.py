"""A real Kafka-protocol broker (tansu) for the Kafka tests, and OTLP helpers."""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def tansu_bin() -> str:
    found = shutil.which("tansu") or str(Path.home() / ".cargo" / "bin" / "tansu")
    if not os.access(found, os.X_OK):
        raise RuntimeError("tansu is not installed; tests/run.sh installs it into ~/.cargo/bin")
    return found


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Broker:
    """One tansu broker with in-memory storage on a loopback port."""

    def __init__(self, workdir: Path, port: int):
        self.port = port
        self.bootstrap = f"127.0.0.1:{port}"
        self.url = f"tcp://127.0.0.1:{port}"
        self.log_path = workdir / f"tansu-{port}.log"
        self.proc = None

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.pop("LISTENER_URL", None)
        env.pop("ADVERTISED_LISTENER_URL", None)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                tansu_bin(), "broker",
                "--storage-engine", "memory://tansu/",
                "--listener-url", self.url,
                "--advertised-listener-url", self.url,
            ],
            stdout=self.log, stderr=self.log, env=env,
        )
        deadline = time.time() + 30
        while not _port_open(self.port):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"tansu did not start:\n{self.log_path.read_text(errors='replace')}")
            time.sleep(0.05)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def create_topic(self, name: str, partitions: int = 4):
        subprocess.run(
            [tansu_bin(), "topic", "create", "--broker", self.url, "--partitions", str(partitions), name],
            check=True, timeout=30, capture_output=True,
        )
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        deadline = time.time() + 30
        while time.time() < deadline:
            md = admin.list_topics(timeout=5)
            t = md.topics.get(name)
            if t is not None and t.error is None and len(t.partitions) == partitions:
                return
            time.sleep(0.1)
        raise TimeoutError(f"topic {name} not visible with {partitions} partitions")

    def read_all(self, topic: str, expect_messages: int = None, timeout: float = 30.0, idle: float = 2.0,
                 headers: bool = False):
        """Every message of `topic`, from the start of each partition, as (partition, key, value),
        with the record's headers as a fourth item when `headers`."""
        c = Consumer({
            "bootstrap.servers": self.bootstrap,
            "group.id": f"inspect-{time.time_ns()}",
            "enable.auto.commit": False,
        })
        md = c.list_topics(topic, timeout=10)
        parts = sorted(md.topics[topic].partitions)
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        out = []
        deadline = time.time() + timeout
        last = time.time()
        while time.time() < deadline:
            m = c.poll(0.2)
            if m is None:
                if expect_messages is not None and len(out) >= expect_messages:
                    break
                if expect_messages is None and time.time() - last > idle:
                    break
                continue
            if m.error():
                continue
            last = time.time()
            item = (m.partition(), m.key(), m.value())
            out.append(item + (dict(m.headers() or []),) if headers else item)
        c.close()
        return out

    def committed(self, group: str, topic: str) -> dict:
        """The group's committed offset per partition."""
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False})
        md = c.list_topics(topic, timeout=10)
        parts = [TopicPartition(topic, p) for p in sorted(md.topics[topic].partitions)]
        res = c.committed(parts, timeout=10)
        c.close()
        return {tp.partition: tp.offset for tp in res}


def spans_of(value: bytes):
    """(trace id hex, span id hex, service) of every span in a protobuf export request."""
    req = ExportTraceServiceRequest()
    req.ParseFromString(value)
    out = []
    for rs in req.resource_spans:
        service = next((a.value.string_value for a in rs.resource.attributes if a.key == "service.name"), "")
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append((s.trace_id.hex(), s.span_id.hex(), service))
    return out


def otlp_json_traces(spans, service="svc"):
    """An OTLP/JSON export request; `spans` is a list of (trace id hex, span id hex, extra attrs)."""
    return {
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
            "scopeSpans": [{
                "scope": {"name": "test"},
                "spans": [
                    {
                        "traceId": t,
                        "spanId": s,
                        "name": f"op-{s}",
                        "kind": 2,
                        "startTimeUnixNano": "1700000000000000000",
                        "endTimeUnixNano": "1700000000100000000",
                        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in (attrs or {}).items()],
                    }
                    for t, s, attrs in spans
                ],
            }],
        }]
    }


def export_request(spans, service="svc") -> bytes:
    """The protobuf export request of (trace id hex, span id hex) pairs, as a Kafka producer would write it."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    a = rs.resource.attributes.add()
    a.key = "service.name"
    a.value.string_value = service
    ss = rs.scope_spans.add()
    for t, s in spans:
        sp = ss.spans.add()
        sp.trace_id = bytes.fromhex(t)
        sp.span_id = bytes.fromhex(s)
        sp.name = f"op-{s}"
        sp.start_time_unix_nano = 1700000000000000000
        sp.end_time_unix_nano = 1700000000100000000
    return req.SerializeToString()


def file_spans(path: Path):
    """Span ids in a `file` exporter's OTLP/JSON lines; a torn last line (SIGKILL) is ignored."""
    import json

    out = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        for rs in doc.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    out.append(s["spanId"].lower())
    return out
