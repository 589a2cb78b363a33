"""The persistent sending queue: what aiotel acknowledged survives SIGKILL
and a down backend, and is delivered once the backend comes up."""

import json
import os
import signal
import struct
import subprocess
import zlib
from collections import Counter

from conftest import Aiotel, aiotel_bin, free_port, wait_until
from load import Load, make_spans, span_key
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from pipelines import back

# Spans per round of the crash test; raise it for a longer run.
ROUND = int(os.environ.get("AIOTEL_PQ_SPANS", "3000"))

FRONT = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
processors:
  batch: {send_batch_size: 100, timeout: 20ms}
extensions:
  file_storage/queue: {directory: QUEUE_DIR, create_directory: true, fsync_interval: 200ms, max_size_mib: 64}
exporters:
  otlp/back:
    endpoint: 127.0.0.1:BACK_PORT
    tls: {insecure: true}
    timeout: 2s
    retry_on_failure: {initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 0s}
    sending_queue: {num_consumers: 2, storage: file_storage/queue}
service:
  shutdown_timeout: 2s
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [otlp/back]}
"""

# service.extensions is a list, which a later --config replaces: the
# common file must name the storage extension too.
COMMON = """
extensions:
  health_check: {endpoint: "127.0.0.1:HEALTH_PORT"}
service:
  extensions: [health_check, file_storage/queue]
  telemetry: {metrics: {address: "127.0.0.1:METRICS_PORT"}}
"""


def front(workdir, name, grpc_port, back_port, queue_dir, started):
    cfg = FRONT.replace("GRPC_PORT", str(grpc_port)).replace("BACK_PORT", str(back_port))
    a = Aiotel(workdir, name, cfg.replace("QUEUE_DIR", str(queue_dir)))
    a.common_path.write_text(
        COMMON.replace("HEALTH_PORT", str(a.health_port)).replace("METRICS_PORT", str(a.metrics_port))
    )
    started.append(a)
    return a.start()


def send(grpc_port, n, service):
    spans = make_spans(n, service=service)
    load = Load(lambda: OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, timeout=10),
                spans, batch=50, threads=2)
    load.start().join(120)
    return load.acked


def complete_lines(out):
    """The lines the backend has finished writing (the last may be partial)."""
    if not out.exists():
        return []
    return [json.loads(l) for l in out.read_text().split("\n")[:-1] if l.strip()]


def delivered(out):
    ids = Counter()
    for line in complete_lines(out):
        for rs in line.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for sp in ss.get("spans", []):
                    ids[sp["spanId"]] += 1
    return ids


def test_acknowledged_spans_survive_sigkills_and_a_down_backend(spawn, workdir):
    grpc_port, back_port = free_port(), free_port()
    queue_dir, out = workdir / "queue", workdir / "out.jsonl"
    started = []
    try:
        acked = set()
        f = front(workdir, "front", grpc_port, back_port, queue_dir, started)
        for round in range(2):
            acked |= send(grpc_port, ROUND, f"round{round}")
            f.stop(signal.SIGKILL)
            assert f.proc.returncode == -signal.SIGKILL
            f.start()
        assert len(acked) == 2 * ROUND, f"aiotel refused spans while the backend was down: {2 * ROUND - len(acked)}"
        # The log held everything across both kills.
        replayed = f.metric_sum("aiotel_exporter_queue_events_total", event="replayed_items")
        assert replayed >= 2 * ROUND, replayed
        assert "replaying what was not acknowledged" in f.logs()

        spawn("back", back(back_port, out))
        # A third kill while the backlog is being delivered: some records are
        # sent but not yet acknowledged in the log, and come back as duplicates.
        acked |= send(grpc_port, ROUND, "round2")
        f.stop(signal.SIGKILL)
        f.start()
        assert len(acked) == 3 * ROUND
        got = wait_until(lambda: (lambda d: d if acked <= set(d) else None)(delivered(out)), timeout=90,
                         what="every acknowledged span at the backend")
        # Delivered records are deleted: the queue drains to one empty segment.
        qdir = queue_dir / "otlp_back_traces"
        wait_until(lambda: [p.stat().st_size for p in qdir.iterdir()] == [0], timeout=30, what="queue drained")
        got = delivered(out)
        missing = acked - set(got)
        duplicates = sum(c - 1 for c in got.values())
        print(f"acknowledged={len(acked)} delivered={len(got)} duplicates={duplicates} lost={len(missing)}")
        assert not missing
        assert set(got) == acked
        sent = f.metric_sum("aiotel_exporter_sent_spans_total", exporter="otlp/back")
        assert sent > 0, sent
    finally:
        for a in started:
            if a.proc and a.proc.poll() is None:
                a.proc.kill()
                a.proc.wait()


def frame(data: bytes, items: int) -> bytes:
    """One WAL record as aiotel writes it: len, crc32(items + data), items, data."""
    crc = zlib.crc32(struct.pack("<I", items) + data)
    return struct.pack("<III", len(data), crc, items) + data


def test_corrupt_segments_are_reported_and_skipped(spawn, workdir):
    grpc_port, back_port = free_port(), free_port()
    queue_dir, out = workdir / "queue", workdir / "out.jsonl"
    seg_dir = queue_dir / "otlp_back_traces"
    seg_dir.mkdir(parents=True)
    good = make_spans(3, service="before-crash")
    req = encode_spans(good).SerializeToString()
    # A good record, then a record torn mid-write; then a segment of garbage.
    (seg_dir / f"{1:020}.wal").write_bytes(frame(req, 3) + frame(req, 3)[:20])
    (seg_dir / f"{2:020}.wal").write_bytes(b"\xff" * 64)
    spawn("back", back(back_port, out))
    started = []
    try:
        f = front(workdir, "front", grpc_port, back_port, queue_dir, started)
        assert f.metric_sum("aiotel_exporter_queue_events_total", event="corrupt_records") == 2
        assert "torn or corrupt record" in f.logs()
        assert send(grpc_port, 5, "after-crash")
        want = {span_key(s) for s in good}
        got = wait_until(lambda: (lambda d: d if len(d) == 8 else None)(delivered(out)), timeout=30, what="8 spans")
        assert want <= set(got)
        assert f.proc.poll() is None
    finally:
        for a in started:
            if a.proc and a.proc.poll() is None:
                a.proc.kill()
                a.proc.wait()


def validate(tmp_path, text):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    return subprocess.run([aiotel_bin(), "validate", "--config", str(cfg)], capture_output=True, text=True, timeout=30)


BAD = """
receivers:
  otlp: {protocols: {grpc: {endpoint: "127.0.0.1:4317"}}}
extensions:
  file_storage/a: {directory: /tmp, compaction: {on_start: true}}
exporters:
  otlp/x:
    endpoint: 127.0.0.1:1
    sending_queue: {persistent: {max_size_mib: 10, full_policy: drop_newest}}
  otlp/y:
    endpoint: 127.0.0.1:1
    sending_queue: {persistent: {max_size_mib: 10}}
  otlp/z:
    endpoint: 127.0.0.1:1
    sending_queue: {storage: file_storage/missing}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [otlp/x, otlp/y, otlp/z]}
"""


def test_bad_persistent_queue_config_is_reported_with_paths(tmp_path):
    r = validate(tmp_path, BAD)
    assert r.returncode != 0
    err = r.stderr + r.stdout
    assert "extensions::file_storage/a::compaction" in err, err
    assert "drop_newest" in err and "full_policy" in err, err
    assert "exporters::otlp/y::sending_queue" in err and "persistent::directory: missing" in err, err
    assert 'exporters::otlp/z::sending_queue::storage: storage extension "file_storage/missing"' in err, err
    assert "panicked" not in err


SMALL = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
exporters:
  otlp/back:
    endpoint: 127.0.0.1:BACK_PORT
    tls: {insecure: true}
    timeout: 2s
    retry_on_failure: {initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 0s}
    sending_queue:
      num_consumers: 1
      persistent: {directory: QUEUE_DIR, max_size_mib: 1, fsync_interval: 0s, full_policy: POLICY}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [otlp/back]}
"""


def small_front(spawn, workdir, policy):
    grpc_port, back_port = free_port(), free_port()
    cfg = SMALL.replace("GRPC_PORT", str(grpc_port)).replace("BACK_PORT", str(back_port))
    cfg = cfg.replace("QUEUE_DIR", str(workdir / "queue")).replace("POLICY", policy)
    return spawn("front", cfg), grpc_port, back_port


def export_raw(port, spans):
    """One export with no client retries; returns the gRPC status code."""
    import grpc

    payload = encode_spans(spans).SerializeToString()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        call = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        try:
            call(payload, timeout=10)
            return grpc.StatusCode.OK
        except grpc.RpcError as e:
            return e.code()


def batches(n, size, service):
    spans = make_spans(n * size, payload_bytes=2048, service=service)
    return [spans[i : i + size] for i in range(0, len(spans), size)]


def test_full_queue_with_block_refuses_with_a_retryable_code_then_recovers(spawn, workdir):
    import grpc

    f, grpc_port, back_port = small_front(spawn, workdir, "block")
    acked, codes = set(), []
    for b in batches(30, 50, "block"):  # ~3 MiB against a 1 MiB queue
        code = export_raw(grpc_port, b)
        codes.append(code)
        if code == grpc.StatusCode.OK:
            acked |= {span_key(s) for s in b}
    assert grpc.StatusCode.UNAVAILABLE in codes, codes
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}, codes
    assert 0 < len(acked) < 1500
    assert f.metric_sum("aiotel_exporter_enqueue_failed_spans_total", exporter="otlp/back") > 0
    assert f.metric_sum("aiotel_exporter_dropped_spans_total", exporter="otlp/back") == 0
    out = workdir / "out.jsonl"
    spawn("back", back(back_port, out))
    got = wait_until(lambda: (lambda d: d if acked <= set(d) else None)(delivered(out)), timeout=60, what="acked spans")
    assert len(set(got)) == len(acked)
    # Room again: new data is accepted.
    late = batches(1, 50, "late")[0]
    assert wait_until(lambda: export_raw(grpc_port, late) == grpc.StatusCode.OK, timeout=30, what="accepted again")


def test_full_queue_with_drop_oldest_accepts_and_counts_what_it_drops(spawn, workdir):
    import grpc

    f, grpc_port, back_port = small_front(spawn, workdir, "drop_oldest")
    acked = []
    for b in batches(30, 50, "drop"):
        assert export_raw(grpc_port, b) == grpc.StatusCode.OK
        acked.extend(span_key(s) for s in b)
    dropped = f.metric_sum("aiotel_exporter_dropped_spans_total", exporter="otlp/back")
    assert 0 < dropped < 1500, dropped
    out = workdir / "out.jsonl"
    spawn("back", back(back_port, out))
    # Everything not counted as dropped arrives, and the newest data is among it.
    want = len(acked) - int(dropped)
    got = wait_until(lambda: (lambda d: d if len(d) >= want else None)(delivered(out)), timeout=60, what="survivors")
    assert len(got) == want
    assert set(acked[-50:]) <= set(got)
    assert set(got) <= set(acked)


def test_clean_shutdown_with_the_backend_down_keeps_the_queue_for_the_next_start(spawn, workdir):
    grpc_port, back_port = free_port(), free_port()
    queue_dir, out = workdir / "queue", workdir / "out.jsonl"
    started = []
    try:
        f = front(workdir, "front", grpc_port, back_port, queue_dir, started)
        acked = send(grpc_port, 500, "sigterm")
        assert len(acked) == 500
        assert f.stop(signal.SIGTERM) == 0
        f.start()
        assert f.metric_sum("aiotel_exporter_queue_events_total", event="replayed_items") == 500
        spawn("back", back(back_port, out))
        got = wait_until(lambda: (lambda d: d if acked <= set(d) else None)(delivered(out)), timeout=60,
                         what="the spans kept over a clean shutdown")
        assert set(got) == acked
    finally:
        for a in started:
            if a.proc and a.proc.poll() is None:
                a.proc.kill()
                a.proc.wait()
