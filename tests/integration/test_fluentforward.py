"""The fluentforward receiver with real clients: fluent-logger for Message
mode (over TCP and a unix socket), msgpack-encoded messages in every other
mode, acks only after the pipeline accepted, and malformed input that
closes only its own connection."""

import hashlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import msgpack
from conftest import free_port, wait_until
from fluent.sender import EventTime, FluentSender
from fluent_util import (
    AckingSender,
    Conn,
    event_time,
    forward_mode,
    handshake,
    log_records,
    message_mode,
    new_chunk,
    packed_forward,
)
from pipelines import back
from test_tls import make_cert

T = 1_767_225_600  # 2026-01-01T00:00:00Z
ROOT = Path(__file__).resolve().parents[2]
# fluent-logger for Node.js, installed by tests/run.sh from tests/node/package-lock.json.
NODE_MODULES = Path(os.environ.get("AIOTEL_CACHE", Path.home() / ".cache" / "aiotel")) / "node" / "node_modules"

TO_FILE = """
receivers:
  fluentforward: {endpoint: "ENDPOINT"EXTRA}
exporters:
  file: {path: OUT}
service:
  pipelines:
    logs: {receivers: [fluentforward], exporters: [file]}
"""


def to_file(spawn, workdir, endpoint=None, extra=""):
    """An aiotel whose fluentforward receiver writes to a file; returns (aiotel, port or path, out)."""
    port = free_port()
    endpoint = endpoint or f"127.0.0.1:{port}"
    out = workdir / "out.jsonl"
    cfg = TO_FILE.replace("ENDPOINT", endpoint).replace("OUT", str(out)).replace("EXTRA", extra)
    return spawn("ff", cfg), port, out


def records_when(out, n):
    return wait_until(lambda: (lambda r: r if len(r) >= n else None)(log_records(out)), timeout=20,
                      what=f"{n} log records in the file")


def test_fluent_logger_message_mode(spawn, workdir):
    a, port, out = to_file(spawn, workdir)
    ns = FluentSender("app", host="127.0.0.1", port=port, nanosecond_precision=True)
    assert ns.emit_with_time("web", EventTime(T, 123_456_789), {
        "log": "hello from fluent-logger", "status": 200, "ok": True, "latency": 0.25,
        "nested": {"a": [1, "x"]},
    }), ns.last_error
    ns.close()
    # Without nanosecond precision fluent-logger sends integer seconds.
    s = FluentSender("app", host="127.0.0.1", port=port)
    assert s.emit_with_time("db", T + 5, {"message": "integer time", "rows": -3}), s.last_error
    s.close()
    recs = sorted(records_when(out, 2), key=lambda r: r["time"])
    assert recs[0]["time"] == T * 10**9 + 123_456_789
    assert recs[0]["body"] == "hello from fluent-logger"
    assert recs[0]["attrs"] == {"fluent.tag": "app.web", "status": 200, "ok": True, "latency": 0.25,
                                "nested": {"a": [1, "x"]}}
    assert recs[0]["observed"] >= time.time_ns() - 60 * 10**9
    assert recs[1]["time"] == (T + 5) * 10**9
    assert recs[1]["body"] == "integer time"
    assert recs[1]["attrs"] == {"fluent.tag": "app.db", "rows": -3}
    assert a.metric_sum("aiotel_receiver_accepted_log_records_total", receiver="fluentforward", transport="tcp") == 2


def test_fluent_logger_acks_over_unix_socket(spawn, workdir):
    path = workdir / "ff.sock"
    a, _, out = to_file(spawn, workdir, endpoint=f"unix://{path}")
    s = AckingSender("app", host=f"unix://{path}", nanosecond_precision=True)
    for i in range(3):
        assert s.emit_with_time("unix", EventTime(T, i), {"log": f"line {i}"}), s.last_error
        assert s.read_ack(timeout=10) == {"ack": s.last_chunk}
    s.close()
    recs = sorted(records_when(out, 3), key=lambda r: r["time"])
    assert [r["time"] - T * 10**9 for r in recs] == [0, 1, 2]
    assert [r["body"] for r in recs] == ["line 0", "line 1", "line 2"]
    assert a.metric_sum("aiotel_receiver_accepted_log_records_total", transport="unix") == 3


def tail_record(i):
    """A record shaped like Fluent Bit's tail input."""
    return {"log": f"line {i}", "stream": "stdout", "file": "/var/log/app.log"}


def test_all_modes_from_fixtures(spawn, workdir):
    a, port, out = to_file(spawn, workdir)
    c = Conn(("127.0.0.1", port))
    sent = {
        # Fluent Bit 5: [[time, metadata], record], with and without OTLP metadata.
        "forward": forward_mode("fb.forward", [
            ([event_time(T, 1), {}], tail_record(1)),
            ([event_time(T, 2), {"otlp": {"severity_number": 17, "trace_id": "0102030405060708090a0b0c0d0e0f10"},
                                 "node": "n1"}], tail_record(2)),
            (T + 3, tail_record(3)),
        ], chunk=new_chunk()),
        "packed": packed_forward("fb.packed", [(event_time(T, 10), tail_record(10)), (T + 11, tail_record(11))],
                                 chunk=new_chunk()),
        "gzip": packed_forward("fb.gzip", [(event_time(T, 20), tail_record(20))], chunk=new_chunk(),
                               compressed="gzip"),
        "zstd": packed_forward("fb.zstd", [(event_time(T, 30), tail_record(30))], chunk=new_chunk(),
                               compressed="zstd"),
        "message": message_mode("fb.message", event_time(T, 40), tail_record(40), chunk=new_chunk()),
    }
    for name, msg in sent.items():
        chunk = msgpack.unpackb(msg, raw=False)[-1]["chunk"]
        c.send(msg)
        assert c.read() == {"ack": chunk}, name
    c.close()
    recs = {r["body"]: r for r in records_when(out, 8)}
    assert len(recs) == 8
    expect = {1: ("fb.forward", 1), 2: ("fb.forward", 2), 3: ("fb.forward", 3 * 10**9),
              10: ("fb.packed", 10), 11: ("fb.packed", 11 * 10**9), 20: ("fb.gzip", 20), 30: ("fb.zstd", 30),
              40: ("fb.message", 40)}
    for i, (tag, offset) in expect.items():
        r = recs[f"line {i}"]
        assert r["time"] == T * 10**9 + offset, (i, r)
        assert r["attrs"]["fluent.tag"] == tag
        assert r["attrs"]["stream"] == "stdout" and r["attrs"]["file"] == "/var/log/app.log"
    meta = recs["line 2"]
    assert meta["severity"] in (17, "SEVERITY_NUMBER_ERROR")
    assert meta["attrs"]["fluent.metadata.node"] == "n1"
    assert meta["trace_id"].lower() in ("0102030405060708090a0b0c0d0e0f10", "aqidbaugbwgjcgsmdq4pea==")


def test_ack_only_after_the_pipeline_accepted(spawn, workdir):
    back_port, port = free_port(), free_port()
    out = workdir / "back.jsonl"
    backend = spawn("back", back(back_port, out))
    # No sending queue: the pipeline accepts a batch only once the backend has it.
    spawn("front", f"""
receivers:
  fluentforward: {{endpoint: "127.0.0.1:{port}"}}
exporters:
  otlp/back:
    endpoint: 127.0.0.1:{back_port}
    tls: {{insecure: true}}
    timeout: 60s
    sending_queue: {{enabled: false}}
    retry_on_failure: {{enabled: false}}
service:
  pipelines:
    logs: {{receivers: [fluentforward], exporters: [otlp/back]}}
""")
    s = AckingSender("app", host="127.0.0.1", port=port, nanosecond_precision=True)
    assert s.emit_with_time("first", EventTime(T, 1), {"log": "before the stall"})
    assert s.read_ack(timeout=10) == {"ack": s.last_chunk}
    records_when(out, 1)
    os.kill(backend.proc.pid, signal.SIGSTOP)
    try:
        assert s.emit_with_time("second", EventTime(T, 2), {"log": "during the stall"})
        assert s.read_ack(timeout=3) is None, "acked before the backend had the records"
    finally:
        os.kill(backend.proc.pid, signal.SIGCONT)
    assert s.read_ack(timeout=30) == {"ack": s.last_chunk}
    s.close()
    recs = records_when(out, 2)
    assert sorted(r["body"] for r in recs) == ["before the stall", "during the stall"]


def test_no_ack_when_the_pipeline_refuses(spawn, workdir):
    back_port, port = free_port(), free_port()
    out = workdir / "back.jsonl"
    # Nothing listens on back_port yet: every export fails at once, and is not retried.
    front = spawn("front", f"""
receivers:
  fluentforward: {{endpoint: "127.0.0.1:{port}"}}
exporters:
  otlp/back:
    endpoint: 127.0.0.1:{back_port}
    tls: {{insecure: true}}
    timeout: 2s
    sending_queue: {{enabled: false}}
    retry_on_failure: {{enabled: false}}
service:
  pipelines:
    logs: {{receivers: [fluentforward], exporters: [otlp/back]}}
""")
    c = Conn(("127.0.0.1", port))
    msg = forward_mode("refused", [(event_time(T, 7), {"log": "retry me"})], chunk=new_chunk())
    c.send(msg)
    assert c.read(timeout=5) is None, "acked records the pipeline refused"
    wait_until(lambda: front.metric_sum("aiotel_receiver_refused_log_records_total", receiver="fluentforward") >= 1,
               what="the refusal counted")
    wait_until(lambda: "no ack sent" in front.logs(), what="the refusal logged")
    # The connection stays usable: once the backend is up, the client's resend is acked.
    spawn("back", back(back_port, out))
    chunk = msgpack.unpackb(msg, raw=False)[-1]["chunk"]
    c.send(msg)
    assert c.read(timeout=30) == {"ack": chunk}
    c.close()
    assert [r["body"] for r in records_when(out, 1)] == ["retry me"]


def test_garbage_closes_only_its_own_connection(spawn, workdir):
    a, port, out = to_file(spawn, workdir)
    good = Conn(("127.0.0.1", port))

    def send_good(i):
        chunk = new_chunk()
        good.send(forward_mode("good", [(event_time(T, i), {"log": f"good {i}"})], chunk=chunk))
        assert good.read() == {"ack": chunk}

    send_good(1)
    # Bytes that are not a forward message at all.
    bad = Conn(("127.0.0.1", port))
    bad.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert bad.closed_by_server()
    send_good(2)
    # A well-formed array whose record is not a map, after a valid message on the same connection.
    bad2 = Conn(("127.0.0.1", port))
    chunk = new_chunk()
    bad2.send(message_mode("ok", T, {"log": "accepted before the garbage"}, chunk=chunk))
    assert bad2.read() == {"ack": chunk}
    bad2.send(msgpack.packb(["bad", T, "not a map", {"chunk": new_chunk()}]))
    assert bad2.closed_by_server()
    # A message cut off mid-way by the client.
    cut = Conn(("127.0.0.1", port))
    cut.send(forward_mode("cut", [(T, {"log": "x" * 100})])[:40])
    cut.sock.shutdown(socket.SHUT_WR)
    assert cut.closed_by_server()
    send_good(3)
    good.close()
    bodies = sorted(r["body"] for r in records_when(out, 4))
    assert bodies == ["accepted before the garbage", "good 1", "good 2", "good 3"]
    assert a.metric_sum("aiotel_receiver_protocol_errors_total", receiver="fluentforward", reason="malformed") == 2
    assert a.metric_sum("aiotel_receiver_protocol_errors_total", reason="truncated") == 1
    logs = a.logs()
    assert "not a forward protocol message" in logs and "not a map" in logs
    assert a.proc.poll() is None


def test_oversized_messages_close_the_connection(spawn, workdir):
    a, port, out = to_file(spawn, workdir, extra=", max_message_size: 4096, max_entries_per_message: 10")
    big = Conn(("127.0.0.1", port))
    big.send(packed_forward("big", [(T, {"log": "y" * 8000})], chunk=new_chunk())[:2048])
    assert big.closed_by_server(), "a message announced larger than the limit is refused from its header"
    many = Conn(("127.0.0.1", port))
    many.send(forward_mode("many", [(T, {"log": str(i)}) for i in range(11)], chunk=new_chunk()))
    assert many.closed_by_server()
    ok = Conn(("127.0.0.1", port))
    chunk = new_chunk()
    ok.send(forward_mode("fits", [(T, {"log": str(i)}) for i in range(10)], chunk=chunk))
    assert ok.read() == {"ack": chunk}
    assert len(records_when(out, 10)) == 10
    assert a.metric_sum("aiotel_receiver_protocol_errors_total", reason="too_large") == 2
    assert "larger than max_message_size" in a.logs()


def test_shared_key_handshake(spawn, workdir):
    a, port, out = to_file(spawn, workdir, extra=", shared_key: s3cret, self_hostname: aiotel.test")
    c = Conn(("127.0.0.1", port))
    pong, nonce, salt = handshake(c, "s3cret")
    assert pong[:4] == ["PONG", True, "", "aiotel.test"]
    assert pong[4] == hashlib.sha512(salt + b"aiotel.test" + nonce + b"s3cret").hexdigest()
    chunk = new_chunk()
    c.send(message_mode("secure", event_time(T, 5), {"log": "after the handshake"}, chunk=chunk))
    assert c.read() == {"ack": chunk}
    c.close()
    wrong = Conn(("127.0.0.1", port))
    pong, _, _ = handshake(wrong, "wrong")
    assert pong[1] is False and "shared_key mismatch" in pong[2]
    assert wrong.closed_by_server()
    # Data without a handshake is not a PING: refused.
    skip = Conn(("127.0.0.1", port))
    assert skip.read()[0] == "HELO"
    skip.send(message_mode("sneaky", T, {"log": "no handshake"}))
    pong = skip.read()
    assert pong[:2] == ["PONG", False] and "PING" in pong[2], pong
    assert skip.closed_by_server()
    assert [r["body"] for r in records_when(out, 1)] == ["after the handshake"]
    assert a.metric_sum("aiotel_receiver_protocol_errors_total", reason="handshake") == 2


def test_tls_and_heartbeat(spawn, workdir):
    import ssl

    ca, cert, key = make_cert(workdir)
    a, port, out = to_file(spawn, workdir, extra=f", tls: {{cert_file: {cert}, key_file: {key}}}")
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            chunk = new_chunk()
            tls.sendall(packed_forward("tls", [(event_time(T, 9), {"log": "over tls"})], chunk=chunk,
                                       compressed="gzip"))
            unpacker = msgpack.Unpacker(raw=False)
            unpacker.feed(tls.recv(4096))
            assert next(unpacker) == {"ack": chunk}
    r = records_when(out, 1)[0]
    assert (r["body"], r["time"]) == ("over tls", T * 10**9 + 9)
    # Plain text on the TLS port fails the TLS handshake, and is counted.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:
        plain.sendall(message_mode("plain", T, {"log": "not tls"}))
        plain.settimeout(10)
        try:
            plain.recv(4096)
        except ConnectionResetError:
            pass
    wait_until(lambda: a.metric_sum("aiotel_receiver_protocol_errors_total", reason="tls") == 1, what="TLS error")
    # The UDP heartbeat is echoed on the same port.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(5)
        u.sendto(b"\x00", ("127.0.0.1", port))
        data, _ = u.recvfrom(16)
        assert data == b"\x00"


def node_send(spec):
    """Sends events with fluent-logger for Node.js; returns its {"acked": n, "errors": [...]}."""
    assert (NODE_MODULES / "fluent-logger").is_dir(), f"fluent-logger for Node.js is not installed in {NODE_MODULES}"
    r = subprocess.run(["node", str(ROOT / "tests" / "node" / "fluent_client.js"), json.dumps(spec)],
                       env=dict(os.environ, NODE_PATH=str(NODE_MODULES)), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def node_events(label, n, first_nsec):
    return [{"label": label, "record": {"message": f"{label} {i}", "i": i}, "sec": T, "nsec": first_nsec + i}
            for i in range(n)]


def test_node_fluent_logger_every_mode_with_acks(spawn, workdir):
    a, port, out = to_file(spawn, workdir)
    modes = {"Message": 100, "PackedForward": 200, "CompressedPackedForward": 300}
    for mode, base in modes.items():
        res = node_send({"tag": "node", "port": port, "mode": mode, "ack": True,
                         "events": node_events(mode.lower(), 3, base)})
        assert res == {"acked": 3, "errors": []}, mode
    recs = {r["body"]: r for r in records_when(out, 9)}
    for mode, base in modes.items():
        for i in range(3):
            r = recs[f"{mode.lower()} {i}"]
            assert r["time"] == T * 10**9 + base + i
            assert r["attrs"] == {"fluent.tag": f"node.{mode.lower()}", "i": i}


def test_node_fluent_logger_handshake(spawn, workdir):
    a, port, out = to_file(spawn, workdir, extra=", shared_key: k3y, self_hostname: aiotel.test")
    res = node_send({"tag": "secure", "port": port, "mode": "CompressedPackedForward", "ack": True,
                     "sharedKey": "k3y", "events": node_events("shared", 2, 0)})
    assert res == {"acked": 2, "errors": []}
    assert sorted(r["body"] for r in records_when(out, 2)) == ["shared 0", "shared 1"]
    res = node_send({"tag": "secure", "port": port, "ack": True, "ackTimeoutMs": 2000, "sharedKey": "wrong",
                     "events": node_events("denied", 1, 0)})
    assert res["acked"] == 0 and res["errors"], res
    wait_until(lambda: a.metric_sum("aiotel_receiver_protocol_errors_total", reason="handshake") == 1,
               what="the failed handshake counted")
    assert len(log_records(out)) == 2


def test_node_fluent_logger_over_tls(spawn, workdir):
    # Without acks: fluent-logger for Node.js starts listening for an ack only in
    # its TLS write callback, which can run after a fast server's ack has arrived
    # and been dropped. Acks are tested over plain TCP above.
    ca, cert, key = make_cert(workdir)
    a, port, out = to_file(spawn, workdir, extra=f", shared_key: k3y, tls: {{cert_file: {cert}, key_file: {key}}}")
    res = node_send({"tag": "secure", "port": port, "mode": "CompressedPackedForward", "sharedKey": "k3y",
                     "ca": str(ca), "events": node_events("tls", 2, 0)})
    assert res == {"acked": 2, "errors": []}
    recs = sorted(records_when(out, 2), key=lambda r: r["time"])
    assert [(r["body"], r["time"]) for r in recs] == [("tls 0", T * 10**9), ("tls 1", T * 10**9 + 1)]
    assert a.metric_sum("aiotel_receiver_accepted_log_records_total", transport="tls") == 2


def test_node_fluent_logger_sees_no_ack_when_refused(spawn, workdir):
    port = free_port()
    front = spawn("front", f"""
receivers:
  fluentforward: {{endpoint: "127.0.0.1:{port}"}}
exporters:
  otlp/nowhere:
    endpoint: 127.0.0.1:{free_port()}
    tls: {{insecure: true}}
    sending_queue: {{enabled: false}}
    retry_on_failure: {{enabled: false}}
service:
  pipelines:
    logs: {{receivers: [fluentforward], exporters: [otlp/nowhere]}}
""")
    res = node_send({"tag": "refused", "port": port, "mode": "PackedForward", "ack": True, "ackTimeoutMs": 3000,
                     "events": node_events("x", 2, 0)})
    assert res["acked"] == 0 and any("ack response timeout" in e for e in res["errors"]), res
    assert front.metric_sum("aiotel_receiver_refused_log_records_total", receiver="fluentforward") == 2


def test_every_acked_record_survives_shutdown(spawn, workdir):
    import threading

    a, port, out = to_file(spawn, workdir)
    acked, stop = [], threading.Event()

    def client(k):
        c = Conn(("127.0.0.1", port))
        n = 0
        try:
            while not stop.is_set():
                ids = [f"{k}-{n}-{i}" for i in range(50)]
                chunk = new_chunk()
                c.send(forward_mode("shutdown", [(event_time(T, i), {"log": x}) for i, x in enumerate(ids)],
                                    chunk=chunk))
                if c.read(timeout=30) != {"ack": chunk}:
                    return
                acked.extend(ids)
                n += 1
        except (EOFError, OSError):
            return

    threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acked) >= 1000, what="some acked records")
    assert a.stop() == 0
    stop.set()
    for t in threads:
        t.join(timeout=60)
    got = {r["body"] for r in log_records(out)}
    missing = set(acked) - got
    assert not missing, f"{len(missing)} of {len(acked)} acked records lost at shutdown"
