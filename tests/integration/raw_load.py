"""A fast OTLP load for the scale tests: requests are encoded once up front
(span ids are consecutive integers, so a request is a range of ids) and
sent with raw gRPC or HTTP calls from several threads. A refused request is
retried, honouring the server's hint, until it is acknowledged; only
acknowledged requests count."""

import http.client
import struct
import threading
import time
from collections import Counter

import grpc
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED)
# Reconnect soon after a restart rather than after gRPC's default backoff.
CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 500),
                   ("grpc.min_reconnect_backoff_ms", 100)]


class Request:
    def __init__(self, payload: bytes, first: int, count: int):
        self.payload, self.first, self.count = payload, first, count

    def ids(self) -> range:
        return range(self.first, self.first + self.count)


def span_requests(n: int, per_request: int, service: str, pad: int = 0, first_id: int = 1) -> list:
    """`n` spans as requests of `per_request`; span ids are first_id.. in order, ten spans to a trace."""
    out, nid = [], first_id
    blob = "x" * pad
    while nid < first_id + n:
        count = min(per_request, first_id + n - nid)
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", service
        ss = rs.scope_spans.add()
        ss.scope.name = "raw_load"
        for i in range(nid, nid + count):
            sp = ss.spans.add(trace_id=struct.pack(">QQ", 1, i // 10 + 1), span_id=struct.pack(">Q", i), name="op",
                              kind=1, start_time_unix_nano=1_700_000_000_000_000_000 + i,
                              end_time_unix_nano=1_700_000_000_000_001_000 + i)
            if pad:
                a = sp.attributes.add()
                a.key, a.value.string_value = "pad", blob
        out.append(Request(req.SerializeToString(), nid, count))
        nid += count
    return out


def span_ids(payload: bytes):
    """The span ids (as integers) in one encoded ExportTraceServiceRequest."""
    req = ExportTraceServiceRequest.FromString(payload)
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for sp in ss.spans:
                yield int.from_bytes(sp.span_id, "big")


def log_ids(payload: bytes):
    """The ids of log records whose body is the decimal id, in one encoded ExportLogsServiceRequest."""
    req = ExportLogsServiceRequest.FromString(payload)
    for rl in req.resource_logs:
        for sl in rl.scope_logs:
            for lr in sl.log_records:
                yield int(lr.body.string_value)


class Load:
    """Threads that take requests in turn and send each until it is acknowledged
    (or `stop` is set), backing off from `backoff` up to `max_backoff`.

    `send(conn, req)` returns None on success or why it was refused (a key of
    `refusals`); it raises for an answer that must not be retried."""

    def __init__(self, requests, threads, connect, send, backoff=0.05, max_backoff=1.0):
        self.requests, self.threads, self.connect, self.send = requests, threads, connect, send
        self.backoff, self.max_backoff = backoff, max_backoff
        self.next = 0
        self.acked = []  # indices of acknowledged requests
        self.offered = 0  # items sent, counting every attempt
        self.refusals = Counter()
        self.errors = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.workers = []

    def acked_spans(self) -> int:
        with self.lock:
            return sum(self.requests[i].count for i in self.acked)

    def acked_ids(self):
        with self.lock:
            done = list(self.acked)
        for i in done:
            yield from self.requests[i].ids()

    def _take(self):
        with self.lock:
            if self.next >= len(self.requests) or self.stop.is_set():
                return None
            self.next += 1
            return self.next - 1

    def _run(self):
        conn = self.connect()
        try:
            while (i := self._take()) is not None:
                wait = self.backoff
                while not self.stop.is_set():
                    try:
                        refused = self.send(conn, self.requests[i])
                    except Exception as e:  # an answer that must not be retried
                        with self.lock:
                            self.errors.append(repr(e))
                        break
                    with self.lock:
                        self.offered += self.requests[i].count
                        if refused is None:
                            self.acked.append(i)
                        else:
                            self.refusals[refused] += 1
                    if refused is None:
                        break
                    time.sleep(wait)
                    wait = min(wait * 2, self.max_backoff)
        finally:
            close = getattr(conn, "close", None)
            if close:
                close()

    def start(self):
        for _ in range(self.threads):
            t = threading.Thread(target=self._run, daemon=True)
            t.start()
            self.workers.append(t)
        return self

    def join(self, timeout=None):
        deadline = None if timeout is None else time.time() + timeout
        for t in self.workers:
            t.join(None if deadline is None else max(0, deadline - time.time()))
        return not self.alive()

    def alive(self):
        return any(t.is_alive() for t in self.workers)


def retry_delay(err: grpc.RpcError):
    """The RetryInfo delay in a gRPC error's status details, in seconds, if any."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for d in status.details:
                info = error_details_pb2.RetryInfo()
                if d.Unpack(info):
                    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


def grpc_load(port, requests, threads=4, timeout=30, honour_hints=False, **backoff):
    """With `honour_hints`, a refusal's RetryInfo delay is waited out (capped
    at 1 s here) and a refusal without one is counted as `no RetryInfo`."""

    def connect():
        ch = grpc.insecure_channel(f"127.0.0.1:{port}", options=CHANNEL_OPTIONS)
        ch.export = ch.unary_unary(EXPORT)
        return ch

    def send(ch, req):
        try:
            ch.export(req.payload, timeout=timeout)
            return None
        except grpc.RpcError as e:
            if e.code() not in RETRYABLE:
                raise AssertionError(f"not retryable: {e.code()} {e.details()}")
            if honour_hints and e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                delay = retry_delay(e)
                if delay is None:
                    with load.lock:
                        load.refusals["no RetryInfo"] += 1
                else:
                    time.sleep(min(delay, 1.0))
            return e.code().name

    load = Load(requests, threads, connect, send, **backoff)
    return load


def http_load(port, requests, threads=4, timeout=30, **backoff):
    """OTLP/HTTP protobuf; a 429 or 503 must carry Retry-After, which is
    honoured (capped at 1 s here); one without it is counted as `no Retry-After`."""

    def connect():
        return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def send(conn, req):
        try:
            conn.request("POST", "/v1/traces", body=req.payload, headers={"Content-Type": "application/x-protobuf"})
            resp = conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            return "connection"
        if resp.status == 200:
            return None
        if resp.status not in (429, 503):
            raise AssertionError(f"not retryable: HTTP {resp.status}")
        after = resp.getheader("Retry-After")
        if after is None:
            with load.lock:
                load.refusals["no Retry-After"] += 1
        else:
            time.sleep(min(float(after), 1.0))
        return f"HTTP {resp.status}"

    load = Load(requests, threads, connect, send, **backoff)
    return load


class SinkFile:
    """Reads a `file` exporter's `format: proto` output as it grows, counting
    each span (or log record) id, 1..n, so duplicates and losses can be told apart."""

    def __init__(self, path, n, ids=span_ids):
        self.path, self.offset, self.ids = path, 0, ids
        self.counts = bytearray(n + 1)
        self.distinct = 0
        self.total = 0
        self.unknown = 0

    def poll(self):
        if not self.path.exists():
            return self
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        pos = 0
        while pos + 4 <= len(data):
            (size,) = struct.unpack_from(">I", data, pos)
            if pos + 4 + size > len(data):
                break  # the writer is mid-record
            for sid in self.ids(data[pos + 4 : pos + 4 + size]):
                self.total += 1
                if sid >= len(self.counts):
                    self.unknown += 1
                    continue
                c = self.counts[sid]
                if c == 0:
                    self.distinct += 1
                self.counts[sid] = min(c + 1, 255)
            pos += 4 + size
        self.offset += pos
        return self

    def duplicates(self) -> int:
        return self.total - self.distinct - self.unknown

    def missing(self, ids) -> list:
        return [i for i in ids if not self.counts[i]]
