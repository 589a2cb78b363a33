"""Overload: clients offer ten times what aiotel can deliver to a slow sink.
aiotel stays under its memory limit, refuses with retryable codes and retry
hints, accepts new data soon after the load drops without any help, and a
client that retries loses nothing."""

import os
import signal
import threading
import time

import grpc
from conftest import free_port, wait_until
from load import RssSampler
from raw_load import EXPORT, SinkFile, grpc_load, http_load, span_requests

LIMIT_MIB = 64
PHASE_S = float(os.environ.get("AIOTEL_OVERLOAD_SECONDS", "15"))

FRONT = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
      http: {endpoint: "127.0.0.1:HTTP_PORT"}
processors:
  memory_limiter: {check_interval: 50ms, limit_mib: LIMIT, spike_limit_mib: 24}
  batch: {send_batch_size: 500, send_batch_max_size: 500, timeout: 50ms}
exporters:
  otlp/sink:
    endpoint: 127.0.0.1:SINK_PORT
    tls: {insecure: true}
    timeout: 5s
    retry_on_failure: {initial_interval: 50ms, max_interval: 500ms, max_elapsed_time: 0s}
    sending_queue: {queue_size: 8, num_consumers: 2}
service:
  pipeline_queue_size: 8
  pipelines:
    traces: {receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlp/sink]}
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
"""


class Throttle(threading.Thread):
    """Runs a process a fraction of the time (SIGSTOP / SIGCONT): a slow backend."""

    def __init__(self, pid, run_s=0.01, stop_s=0.09):
        super().__init__(daemon=True)
        self.pid, self.run_s, self.stop_s = pid, run_s, stop_s
        self.done = threading.Event()

    def run(self):
        try:
            while not self.done.is_set():
                os.kill(self.pid, signal.SIGSTOP)
                time.sleep(self.stop_s)
                os.kill(self.pid, signal.SIGCONT)
                time.sleep(self.run_s)
        finally:
            os.kill(self.pid, signal.SIGCONT)

    def stop(self):
        self.done.set()
        self.join()


def accepted(port, payload) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        try:
            ch.unary_unary(EXPORT)(payload, timeout=5)
            return True
        except grpc.RpcError:
            return False


def test_ten_times_overload_is_refused_retryably_within_the_memory_limit(spawn, workdir):
    grpc_port, http_port, sink_port = free_port(), free_port(), free_port()
    out = workdir / "sink.pb"
    sink = spawn("sink", SINK.replace("SINK_PORT", str(sink_port)).replace("OUT_PATH", str(out)))
    cfg = FRONT.replace("GRPC_PORT", str(grpc_port)).replace("HTTP_PORT", str(http_port))
    front = spawn("front", cfg.replace("SINK_PORT", str(sink_port)).replace("LIMIT", str(LIMIT_MIB)))
    # Ids: the flood 1.., the clients that honour retry hints after it.
    n_flood, n_polite = int(os.environ.get("AIOTEL_OVERLOAD_FLOOD", "60000")), 10000
    flood_reqs = span_requests(n_flood, 200, "flood", pad=1024)
    polite_grpc_reqs = span_requests(n_polite, 100, "polite-grpc", pad=1024, first_id=n_flood + 1)
    polite_http_reqs = span_requests(n_polite, 100, "polite-http", pad=1024, first_id=n_flood + n_polite + 1)
    total = n_flood + 2 * n_polite
    sink_file = SinkFile(out, total)
    probe = span_requests(1, 1, "probe", first_id=total + 1)[0].payload

    throttle = Throttle(sink.proc.pid)
    throttle.start()
    rss = RssSampler(front.proc.pid)
    rss.start()
    # Unthrottled: every refusal is retried at once (5 ms), with no regard for hints.
    flood = grpc_load(grpc_port, flood_reqs, threads=16, backoff=0.005, max_backoff=0.005).start()
    polite = [grpc_load(grpc_port, polite_grpc_reqs, threads=2, honour_hints=True).start(),
              http_load(http_port, polite_http_reqs, threads=2).start()]
    t0 = time.time()
    time.sleep(PHASE_S)
    flood.stop.set()
    phase = time.time() - t0
    delivered_in_phase = sink_file.poll().distinct
    offered = flood.offered + sum(p.offered for p in polite)
    assert flood.join(timeout=60)

    # The load has dropped: aiotel accepts new data soon, on its own (the sink stays slow).
    t_drop = time.time()
    wait_until(lambda: accepted(grpc_port, probe), timeout=20, interval=0.2, what="a new request accepted")
    recovery = time.time() - t_drop
    for p in polite:
        assert p.join(timeout=120), "a client that retries did not finish"
    throttle.stop()
    peak = rss.stop()

    refusals = flood.refusals + polite[0].refusals + polite[1].refusals
    acked = set(flood.acked_ids()) | set(polite[0].acked_ids()) | set(polite[1].acked_ids())
    wait_until(lambda: sink_file.poll().distinct >= len(acked), timeout=60, interval=0.5,
               what="every acknowledged span at the sink")
    lost = sink_file.missing(sorted(acked))
    print(f"\noffered={offered / phase:.0f} spans/s delivered={delivered_in_phase / phase:.0f} spans/s "
          f"ratio={offered / max(delivered_in_phase, 1):.1f} refusals={dict(refusals)} "
          f"refused_total={front.metric_sum('aiotel_receiver_refused_spans_total'):.0f} "
          f"peak_rss={peak:.1f}MiB limit={LIMIT_MIB}MiB recovery={recovery:.2f}s "
          f"acked={len(acked)} polite={len(polite_grpc_reqs) * 100 + len(polite_http_reqs) * 100} "
          f"delivered={sink_file.distinct} duplicates={sink_file.duplicates()} lost={len(lost)}")
    for load in [flood, *polite]:
        assert not load.errors, load.errors[:5]
    assert offered >= 10 * delivered_in_phase, "the load was not ten times what aiotel delivered"
    assert peak < LIMIT_MIB, f"peak RSS {peak:.1f} MiB over the {LIMIT_MIB} MiB limit"
    assert refusals["UNAVAILABLE"] + refusals["RESOURCE_EXHAUSTED"] > 0, refusals
    assert refusals["HTTP 429"] + refusals["HTTP 503"] > 0, refusals
    assert refusals["no Retry-After"] == 0 and refusals["no RetryInfo"] == 0, refusals
    assert recovery < 10
    # The clients that retried lost nothing, and nothing acknowledged was lost.
    assert all(p.acked_spans() == n_polite for p in polite)
    assert not lost, f"{len(lost)} acknowledged spans lost"
