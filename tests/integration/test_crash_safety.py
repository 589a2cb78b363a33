"""Crash safety at scale: a million spans (or fluent records) into aiotel,
whose persistent queue feeds a sink that is down for the first half of the
run, while aiotel is SIGKILLed twice and restarted. Every span or record
aiotel acknowledged must reach the sink; duplicates are allowed and counted."""

import os
import signal
import time

from conftest import free_port, wait_until
from fluent_util import ForwardClient, acked_messages
from raw_load import Load, SinkFile, grpc_load, log_ids, span_requests

SPANS = int(os.environ.get("AIOTEL_CRASH_SPANS", "1000000"))
RECORDS = int(os.environ.get("AIOTEL_CRASH_RECORDS", "1000000"))
PER_REQUEST = 1000

FRONT = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
  fluentforward: {endpoint: "127.0.0.1:FLUENT_PORT"}
exporters:
  otlp/sink:
    endpoint: 127.0.0.1:SINK_PORT
    tls: {insecure: true}
    timeout: 5s
    retry_on_failure: {initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 0s}
    sending_queue:
      num_consumers: 4
      persistent: {directory: QUEUE_DIR, max_size_mib: 512, fsync_interval: 200ms}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [otlp/sink]}
    logs: {receivers: [fluentforward], exporters: [otlp/sink]}
"""

SINK = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:SINK_PORT"}
exporters:
  file: {path: OUT_PATH, format: proto}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [file]}
    logs: {receivers: [otlp], exporters: [file]}
"""


def sink_config(port, out):
    return SINK.replace("SINK_PORT", str(port)).replace("OUT_PATH", str(out))


def front_config(workdir, grpc_port, fluent_port, sink_port):
    cfg = FRONT.replace("GRPC_PORT", str(grpc_port)).replace("FLUENT_PORT", str(fluent_port))
    return cfg.replace("SINK_PORT", str(sink_port)).replace("QUEUE_DIR", str(workdir / "queue"))


def queue_events(front):
    """What the front found in its queue when it started."""
    return {e: int(front.metric_sum("aiotel_exporter_queue_events_total", event=e))
            for e in ("replayed_items", "skipped_delivered_items", "corrupt_records")}


def acks_on_disk(queue_dir) -> bool:
    """Whether a segment's ack sidecar holds entries: it is partly delivered."""
    for f in queue_dir.rglob("*.ack"):
        try:
            if f.stat().st_size > 0:
                return True
        except FileNotFoundError:  # its segment was just delivered
            pass
    return False


def crash_run(front, progress, total, start_sink, delivered, done, queue_dir):
    """Drives the run as the load progresses: SIGKILL and restart `front` once
    a quarter of the load is acknowledged (the sink still down), start the
    sink at half, and kill again at 70% once the sink has a tenth of the
    data and a segment is partly delivered, so that the second kill lands
    mid-delivery. Returns what each restart found in the queue."""
    kills = [lambda p: p >= 0.25, lambda p: p >= 0.7 and delivered() >= total // 10 and acks_on_disk(queue_dir)]
    restarts, sink_up = [], False
    while kills or not sink_up:
        p = progress() / total
        if kills and kills[0](p):
            kills.pop(0)
            front.stop(signal.SIGKILL)
            assert front.proc.returncode == -signal.SIGKILL
            front.start()
            restarts.append(dict(at=round(p, 2), **queue_events(front)))
        if not sink_up and p >= 0.5:
            start_sink()
            sink_up = True
        assert not done(), f"the load finished before both kills ({p:.2f} acknowledged)"
        time.sleep(0.1)
    return restarts


def test_a_million_acknowledged_spans_survive_two_sigkills_and_a_down_sink(spawn, workdir):
    grpc_port, sink_port = free_port(), free_port()
    out = workdir / "sink.pb"
    requests = span_requests(SPANS, PER_REQUEST, "crash")
    front = spawn("front", front_config(workdir, grpc_port, free_port(), sink_port))
    t0 = time.time()
    sink = SinkFile(out, SPANS)
    load = grpc_load(grpc_port, requests, threads=4).start()
    restarts = crash_run(front, load.acked_spans, SPANS, lambda: spawn("sink", sink_config(sink_port, out)),
                         delivered=lambda: sink.poll().distinct, done=lambda: not load.alive(),
                         queue_dir=workdir / "queue")
    assert load.join(timeout=300), "the client did not finish"
    assert not load.errors, load.errors[:5]
    sent_s = time.time() - t0

    acked = load.acked_spans()
    wait_until(lambda: sink.poll().distinct >= acked, timeout=240, interval=0.5,
               what=f"every acknowledged span at the sink ({acked})")
    time.sleep(1)  # let stragglers land, so duplicates are counted fully
    lost = sink.missing(load.acked_ids())
    print(f"\nspans={SPANS} acked={acked} delivered={sink.distinct} duplicates={sink.duplicates()} "
          f"lost={len(lost)} refusals={dict(load.refusals)} restarts={restarts} "
          f"load={sent_s:.0f}s total={time.time() - t0:.0f}s")
    assert acked == SPANS
    assert not lost, f"{len(lost)} acknowledged spans lost, e.g. {lost[:10]}"
    assert sink.unknown == 0
    # The first kill found only undelivered data; the second, during delivery,
    # replayed only what the sink had not acknowledged yet.
    assert restarts[0]["replayed_items"] > 0, restarts
    assert restarts[1]["skipped_delivered_items"] > 0, restarts
    assert sink.duplicates() < SPANS // 10, "a restart re-sent what was already delivered"


def test_a_million_chunk_acked_fluent_records_survive_two_sigkills_and_a_down_sink(spawn, workdir):
    fluent_port, sink_port = free_port(), free_port()
    out = workdir / "sink.pb"
    messages = acked_messages(RECORDS, PER_REQUEST)
    front = spawn("front", front_config(workdir, free_port(), fluent_port, sink_port))
    t0 = time.time()
    sink = SinkFile(out, RECORDS, ids=log_ids)
    load = Load(messages, 4, lambda: ForwardClient(fluent_port), lambda c, m: c.send(m)).start()
    restarts = crash_run(front, load.acked_spans, RECORDS, lambda: spawn("sink", sink_config(sink_port, out)),
                         delivered=lambda: sink.poll().distinct, done=lambda: not load.alive(),
                         queue_dir=workdir / "queue")
    assert load.join(timeout=300), "the client did not finish"
    assert not load.errors, load.errors[:5]
    sent_s = time.time() - t0

    acked = load.acked_spans()
    wait_until(lambda: sink.poll().distinct >= acked, timeout=240, interval=0.5,
               what=f"every acknowledged record at the sink ({acked})")
    time.sleep(1)
    lost = sink.missing(load.acked_ids())
    print(f"\nrecords={RECORDS} acked={acked} delivered={sink.distinct} duplicates={sink.duplicates()} "
          f"lost={len(lost)} resends={dict(load.refusals)} restarts={restarts} "
          f"load={sent_s:.0f}s total={time.time() - t0:.0f}s")
    assert acked == RECORDS
    assert not lost, f"{len(lost)} acknowledged records lost, e.g. {lost[:10]}"
    assert sink.unknown == 0
    assert restarts[0]["replayed_items"] > 0, restarts
    assert restarts[1]["skipped_delivered_items"] > 0, restarts
    assert sink.duplicates() < RECORDS // 10, "a restart re-sent what was already delivered"
