"""A backend leaves the `loadbalancing` exporter's `dns` resolver mid-run and
its queued data is re-routed, not lost.

Two agents (routing_key traceID, dns resolver re-resolved every 200ms) feed
three tail-sampling backends that listen on 127.0.0.2, .3 and .4, all on one
port. Each agent runs in its own mount namespace with a private /etc/hosts
bind-mounted over the real one (`unshare`, from util-linux), so the test can
re-point the backends' hostname without touching the machine's /etc/hosts:
glibc's getaddrinfo reads /etc/hosts on every lookup, and the resolver keeps
no cache of its own.

The middle backend is SIGSTOPped: it still accepts connections, so the
agents' exports to it hang in flight and the rest of its share waits in their
queues. Removing it from the hosts file must hand all of that to the new
owners: every trace arrives whole at exactly one live backend."""

import os
import signal
import socket
import subprocess
import time
from collections import defaultdict

import pytest
from conftest import Aiotel, free_port, read_jsonl, wait_until
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from test_loadbalancing import traces_in

HOSTNAME = "backends.aiotel.test"
ADDRS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
SPANS_PER_TRACE = 6

AGENT = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:PORT"}
processors:
  batch: {timeout: 100ms, send_batch_size: 64}
exporters:
  loadbalancing:
    routing_key: traceID
    protocol:
      otlp:
        tls: {insecure: true}
        # Two exports in flight per backend: the rest of its share is queued.
        sending_queue: {num_consumers: 2}
        # Longer than the test: an export to the stopped backend hangs until
        # the backend is removed, it does not time out into a retry.
        timeout: 60s
    resolver:
      dns: {hostname: HOSTNAME, port: BACK_PORT, interval: 200ms, timeout: 1s}
service:
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [loadbalancing]}
"""

BACKEND = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "ADDR:BACK_PORT"}
processors:
  tail_sampling:
    decision_wait: 2s
    policies:
      - {name: keep, type: string_attribute, string_attribute: {key: keep, values: ["yes"]}}
exporters:
  file: {path: OUT_PATH}
service:
  pipelines:
    traces: {receivers: [otlp], processors: [tail_sampling], exporters: [file]}
"""

# Runs in the new mount namespace: the private hosts file hides the real one.
BIND_HOSTS = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'


def unshare_flags(hosts):
    """The unshare flags that work here: an unprivileged user namespace, or a
    plain mount namespace when running as root (CI's fresh Debian machine)."""
    tried = []
    for flags in (["--user", "--map-root-user", "--mount"], ["--mount"]):
        probe = subprocess.run(
            ["unshare", *flags, "sh", "-c", BIND_HOSTS, "sh", str(hosts), "getent", "hosts", HOSTNAME],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and ADDRS[0] in probe.stdout:
            return flags
        tried.append(f"unshare {' '.join(flags)}: rc={probe.returncode} {probe.stderr.strip()}")
    pytest.fail("cannot give the agents a private /etc/hosts:\n" + "\n".join(tried))


class NamespacedAiotel(Aiotel):
    """An aiotel process that sees `hosts` as its /etc/hosts."""

    def __init__(self, workdir, name, config, flags, hosts):
        super().__init__(workdir, name, config)
        self.prefix = ["unshare", *flags, "sh", "-c", BIND_HOSTS, "sh", str(hosts)]

    def args(self, *before):
        return self.prefix + super().args(*before)


def write_hosts(path, addrs):
    """Rewrites the file in place: the bind mounts follow the inode."""
    text = "127.0.0.1 localhost\n" + "".join(f"{a} {HOSTNAME}\n" for a in addrs)
    with open(path, "r+") as f:
        f.truncate()
        f.write(text)


def port_free_on_all():
    """One port that every backend address can bind."""
    for _ in range(50):
        port = free_port()
        try:
            for a in ADDRS:
                with socket.socket() as s:
                    s.bind((a, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no port free on all backend addresses")


def make_traces(n, tracer):
    """n traces of SPANS_PER_TRACE spans; every other trace has keep=yes on
    its last child, which goes through the second agent (send_split)."""
    mem = InMemorySpanExporter()
    tp = TracerProvider(resource=Resource.create({"service.name": "lb-dns-test"}))
    tp.add_span_processor(SimpleSpanProcessor(mem))
    tracer = tp.get_tracer(tracer)
    for t in range(n):
        with tracer.start_as_current_span(f"root {t}"):
            for c in range(SPANS_PER_TRACE - 1):
                keep = t % 2 == 0 and c == SPANS_PER_TRACE - 2
                with tracer.start_as_current_span(f"child {t}.{c}", attributes={"keep": "yes"} if keep else {}):
                    pass
    spans = list(mem.get_finished_spans())
    tp.shutdown()
    assert len(spans) == n * SPANS_PER_TRACE
    kept = {format(s.context.trace_id, "032x") for s in spans if s.attributes.get("keep") == "yes"}
    return spans, kept


def send_split(agent_ports, spans):
    """Alternates spans between the agents, so every trace goes through both."""
    for i, p in enumerate(agent_ports):
        exp = OTLPSpanExporter(endpoint=f"127.0.0.1:{p}", insecure=True)
        part = spans[i::2]
        for j in range(0, len(part), 50):
            assert exp.export(part[j : j + 50]) == SpanExportResult.SUCCESS
        exp.shutdown()


def decisions(backend):
    return sum(backend.metric_sum("aiotel_processor_stat", stat=s) for s in ("traces_sampled", "traces_dropped"))


@pytest.fixture
def namespaced(workdir):
    started = []

    def _start(name, config, flags, hosts):
        a = NamespacedAiotel(workdir, name, config, flags, hosts)
        started.append(a)
        return a.start()

    yield _start
    for a in started:
        if a.proc and a.proc.poll() is None:
            a.proc.kill()
            a.proc.wait()


def test_removed_backends_queue_is_rerouted_across_processes(spawn, namespaced, workdir):
    hosts = workdir / "hosts"
    hosts.touch()
    write_hosts(hosts, ADDRS)
    flags = unshare_flags(hosts)

    port = port_free_on_all()
    outs = [workdir / f"backend{i}.jsonl" for i in range(3)]
    backends = [
        spawn(f"backend{i}", BACKEND.replace("ADDR", a).replace("BACK_PORT", str(port)).replace("OUT_PATH", str(o)))
        for i, (a, o) in enumerate(zip(ADDRS, outs))
    ]
    agent_ports = [free_port() for _ in range(2)]
    agent_cfg = AGENT.replace("HOSTNAME", HOSTNAME).replace("BACK_PORT", str(port))
    agents = [
        namespaced(f"agent{i}", agent_cfg.replace("PORT", str(p)), flags, hosts) for i, p in enumerate(agent_ports)
    ]

    def spans_sent_by_agents():
        return sum(a.metric_sum("aiotel_exporter_sent_spans_total") for a in agents)

    # Phase 1: all three backends up.
    first, first_kept = make_traces(60, "first")
    send_split(agent_ports, first)
    wait_until(lambda: sum(decisions(b) for b in backends) >= 60, timeout=30, what="phase 1 decisions")
    assert sum(decisions(b) for b in backends) == 60
    assert spans_sent_by_agents() == len(first)
    before = [decisions(b) for b in backends]
    assert all(before), f"the ring spreads 60 traces over all backends: {before}"

    # Phase 2: the middle backend stops answering; its share waits at the agents.
    stopped = backends[1]
    stopped.proc.send_signal(signal.SIGSTOP)
    second, second_kept = make_traces(120, "second")
    send_split(agent_ports, second)
    live = [backends[0], backends[2]]
    # The live backends take their share; what is left belongs to the stopped one.
    last = [-1]

    def settled():
        now, last[0] = last[0], spans_sent_by_agents()
        return now == last[0]

    wait_until(settled, timeout=30, interval=0.5, what="the live backends' share delivered")
    pending = len(first) + len(second) - spans_sent_by_agents()
    assert pending > 0, "the stopped backend owns part of the second phase"

    write_hosts(hosts, [ADDRS[0], ADDRS[2]])

    def second_phase_decided():
        return decisions(live[0]) - before[0] + decisions(live[1]) - before[2]

    wait_until(lambda: second_phase_decided() >= 120, timeout=30, what="phase 2 decisions at the live backends")
    wait_until(lambda: spans_sent_by_agents() == len(first) + len(second), timeout=10, what="agents sent everything")
    time.sleep(0.5)  # anything sent twice would show up here

    per_backend = [traces_in(read_jsonl(o)) for o in outs]
    owners = defaultdict(list)
    for i, b in enumerate(per_backend):
        for tid, n in b.items():
            owners[tid].append((i, n))
    assert set(owners) == first_kept | second_kept, "kept traces missing or dropped traces written"
    for tid, where in owners.items():
        assert len(where) == 1, f"trace {tid} on several backends: {where}"
        assert where[0][1] == SPANS_PER_TRACE, f"trace {tid} incomplete: {where}"
    for tid in second_kept:
        assert owners[tid][0][0] != 1, f"trace {tid} reached the stopped backend"

    # Every second-phase trace was decided once, at a live backend, with no late spans.
    assert second_phase_decided() == 120
    late_stats = ("late_spans_sampled", "late_spans_dropped")
    late = sum(b.metric_sum("aiotel_processor_stat", stat=s) for b in live for s in late_stats)
    assert late == 0

    rerouted = sum(a.metric_sum("aiotel_exporter_queue_events_total", event="rerouted_items") for a in agents)
    assert rerouted == pending, "everything that waited for the stopped backend was re-routed, once"
    for name in ("dropped", "send_failed", "enqueue_failed"):
        assert sum(a.metric_sum(f"aiotel_exporter_{name}_spans_total") for a in agents) == 0, name
    logs = [a.logs() for a in agents]
    assert all("backend removed; re-routing its queue" in l for l in logs)
    # The exports hanging at the stopped backend were abandoned and handed back too.
    assert any("backend removed with an export in flight; abandoning it" in l for l in logs)
