"""A client load built from the real Python SDK: spans are made by the SDK
and sent with its OTLP exporters, which retry as they do in production."""

import threading
import time

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult


def make_spans(n: int, payload_bytes: int = 0, service: str = "load"):
    mem = InMemorySpanExporter()
    tp = TracerProvider(resource=Resource.create({"service.name": service}))
    tp.add_span_processor(SimpleSpanProcessor(mem))
    tracer = tp.get_tracer("load")
    blob = "x" * payload_bytes
    for i in range(n):
        with tracer.start_as_current_span(f"chat gpt-4o #{i}", attributes={"gen_ai.input.messages": blob, "i": i}):
            pass
    spans = list(mem.get_finished_spans())
    tp.shutdown()
    return spans


def span_key(span) -> str:
    return format(span.context.span_id, "016x")


class Load:
    """Threads that export batches in a loop, keeping the ids of every acknowledged span."""

    def __init__(self, make_exporter, spans, batch=50, threads=4):
        self.make_exporter = make_exporter
        self.spans = spans
        self.batch = batch
        self.threads = threads
        self.acked = set()
        self.failed = 0
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.workers = []

    def _run(self, idx):
        exporter = self.make_exporter()
        chunks = [self.spans[i : i + self.batch] for i in range(0, len(self.spans), self.batch)]
        for j, chunk in enumerate(chunks):
            if j % self.threads != idx:
                continue
            if self.stop_flag.is_set():
                break
            result = exporter.export(chunk)
            with self.lock:
                if result == SpanExportResult.SUCCESS:
                    self.acked.update(span_key(s) for s in chunk)
                else:
                    self.failed += len(chunk)

    def start(self):
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self.workers.append(t)
        return self

    def join(self, timeout=None):
        for t in self.workers:
            t.join(timeout)

    def alive(self):
        return any(t.is_alive() for t in self.workers)


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class RssSampler(threading.Thread):
    def __init__(self, pid, interval=0.05):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak, self.running = pid, interval, 0.0, True

    def run(self):
        while self.running:
            try:
                self.peak = max(self.peak, rss_mib(self.pid))
            except OSError:
                return
            time.sleep(self.interval)

    def stop(self):
        self.running = False
        self.join()
        return self.peak


def span_ids_in_file(lines) -> set:
    ids = set()
    for line in lines:
        for rs in line.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for sp in ss.get("spans", []):
                    ids.add(sp["spanId"])
    return ids
