"""SIGTERM during steady load loses no acknowledged span."""

import signal
import time

from conftest import free_port, read_jsonl, wait_until
from load import Load, make_spans, span_ids_in_file
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from pipelines import back

FRONT = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
processors:
  batch: {send_batch_size: 500, timeout: 1s}
exporters:
  otlp/back:
    endpoint: 127.0.0.1:BACK_PORT
    tls: {insecure: true}
    sending_queue: {queue_size: 100}
service:
  shutdown_timeout: 30s
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [otlp/back]}
"""


def test_sigterm_under_load_loses_no_acknowledged_span(spawn, workdir):
    back_port, grpc_port = free_port(), free_port()
    out = workdir / "out.jsonl"
    spawn("back", back(back_port, out))
    front = spawn("front", FRONT.replace("BACK_PORT", str(back_port)).replace("GRPC_PORT", str(grpc_port)))
    spans = make_spans(100000, payload_bytes=256)
    # The SDK gives up quickly once the daemon is gone, so the run ends soon after SIGTERM.
    load = Load(lambda: OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, timeout=2), spans, batch=100, threads=4)
    load.start()
    time.sleep(2.0)
    assert load.alive(), "load finished before SIGTERM; make it longer"
    front.proc.send_signal(signal.SIGTERM)
    assert front.proc.wait(timeout=60) == 0
    load.stop_flag.set()
    load.join(timeout=60)
    assert "shutdown complete" in front.logs()
    acked = load.acked
    assert len(acked) > 0 and load.failed > 0, (len(acked), load.failed)
    got = wait_until(lambda: (lambda ids: ids if acked <= ids else None)(span_ids_in_file(read_jsonl(out))), timeout=30,
                     what="every acknowledged span at the backend")
    assert not (acked - got)
    print(f"acked={len(acked)} failed_after_sigterm={load.failed} delivered={len(got)}")


STUCK = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
exporters:
  otlp/back:
    endpoint: 127.0.0.1:BACK_PORT
    tls: {insecure: true}
    timeout: 500ms
    retry_on_failure: {initial_interval: 100ms, max_elapsed_time: 0s}
service:
  shutdown_timeout: 3s
  pipelines:
    traces: {receivers: [otlp], exporters: [otlp/back]}
"""


def test_undeliverable_data_is_reported_at_shutdown(spawn, workdir):
    import os
    import urllib.error
    import urllib.request

    back_port, grpc_port = free_port(), free_port()
    backend = spawn("back", back(back_port, workdir / "out.jsonl"))
    os.kill(backend.proc.pid, signal.SIGSTOP)
    try:
        front = spawn("front", STUCK.replace("BACK_PORT", str(back_port)).replace("GRPC_PORT", str(grpc_port)))
        exp = OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, timeout=5)
        for _ in range(3):
            assert exp.export(make_spans(7)).name == "SUCCESS"
        time.sleep(1)
        assert front.metric_sum("aiotel_exporter_sent_spans_total") == 0
        front.proc.send_signal(signal.SIGTERM)
        # While draining, the health check says not ready.
        codes = []
        t0 = time.time()
        while front.proc.poll() is None and time.time() - t0 < 10:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{front.health_port}/", timeout=1)
                codes.append(200)
            except urllib.error.HTTPError as e:
                codes.append(e.code)
            except OSError:
                pass
            time.sleep(0.1)
        assert front.proc.wait(timeout=10) == 0
        # The first probe may land before the signal is handled; once not ready, never ready again.
        assert 503 in codes and 200 not in codes[codes.index(503):], codes
        logs = front.logs()
        assert "21 accepted item(s) could not be delivered" in logs, logs[-2000:]
    finally:
        os.kill(backend.proc.pid, signal.SIGCONT)
