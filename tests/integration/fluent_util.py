"""Fluent Forward protocol helpers for the tests: messages in every carrier
mode encoded with msgpack, a raw socket client, fluent-logger's sender with
acks, and a reader of the log records the file exporter wrote."""

import base64
import gzip
import hashlib
import os
import socket
import struct
import time

import msgpack
import zstandard
from conftest import read_jsonl
from fluent.sender import FluentSender


def event_time(sec: int, nsec: int) -> msgpack.ExtType:
    """An EventTime: ext type 0, seconds and nanoseconds as big-endian u32."""
    return msgpack.ExtType(0, struct.pack(">II", sec, nsec))


def options(chunk=None, compressed=None, size=None):
    o = {}
    if chunk is not None:
        o["chunk"] = chunk
    if compressed is not None:
        o["compressed"] = compressed
    if size is not None:
        o["size"] = size
    return o


def message_mode(tag, time, record, chunk=None) -> bytes:
    """[tag, time, record, option?]"""
    parts = [tag, time, record]
    if chunk is not None:
        parts.append(options(chunk))
    return msgpack.packb(parts)


def forward_mode(tag, entries, chunk=None) -> bytes:
    """[tag, [[time, record], ...], option?]; a time may be Fluent Bit's [time, metadata]."""
    return msgpack.packb([tag, [[t, r] for t, r in entries], options(chunk, size=len(entries))])


def packed_forward(tag, entries, chunk=None, compressed=None) -> bytes:
    """[tag, bin(entry entry ...), option]: PackedForward, or CompressedPackedForward with gzip or zstd."""
    blob = b"".join(msgpack.packb([t, r]) for t, r in entries)
    if compressed == "gzip":
        blob = gzip.compress(blob)
    elif compressed == "zstd":
        blob = zstandard.ZstdCompressor().compress(blob)
    return msgpack.packb([tag, blob, options(chunk, compressed, len(entries))], use_bin_type=True)


def new_chunk() -> str:
    return base64.b64encode(os.urandom(16)).decode()


class Conn:
    """A raw forward-protocol connection over TCP or a unix socket."""

    def __init__(self, address):
        if isinstance(address, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(address)
        self.unpacker = msgpack.Unpacker(raw=False)

    def send(self, data: bytes):
        self.sock.sendall(data)

    def read(self, timeout=10):
        """The next msgpack object the server sends; None on timeout; EOFError when it closed the connection."""
        for obj in self.unpacker:
            return obj
        self.sock.settimeout(timeout)
        while True:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            except ConnectionResetError:
                raise EOFError("connection reset")
            if not data:
                raise EOFError("connection closed")
            self.unpacker.feed(data)
            for obj in self.unpacker:
                return obj

    def closed_by_server(self, timeout=10) -> bool:
        try:
            self.read(timeout)
        except EOFError:
            return True
        return False

    def close(self):
        self.sock.close()


def handshake(conn: Conn, key: str, hostname="client.test"):
    """Answers the server's HELO with a PING for `key`; returns (pong, nonce, salt)."""
    helo = conn.read()
    assert helo[0] == "HELO", helo
    nonce = helo[1]["nonce"]
    salt = os.urandom(16)
    digest = hashlib.sha512(salt + hostname.encode() + nonce + key.encode()).hexdigest()
    conn.send(msgpack.packb(["PING", hostname, salt, digest, "", ""], use_bin_type=True))
    return conn.read(), nonce, salt


class AckingSender(FluentSender):
    """fluent-logger's FluentSender with the `chunk` option on every event,
    as fluent-logger-ruby's require_ack_response does; the ack is read back
    from the sender's own socket."""

    def _make_packet(self, label, timestamp, data):
        tag = f"{self.tag}.{label}" if label and self.tag else (label or self.tag)
        if self.nanosecond_precision and isinstance(timestamp, float):
            from fluent.sender import EventTime

            timestamp = EventTime(timestamp)
        self.last_chunk = new_chunk()
        return msgpack.packb((tag, timestamp, data, {"chunk": self.last_chunk}), **self.msgpack_kwargs)

    def _check_recv_side(self):
        # The base class reads and discards whatever the server sent: here that is our ack.
        pass

    def read_ack(self, timeout):
        """The server's answer to the last event, or None if none came within `timeout`."""
        self.socket.settimeout(timeout)
        unpacker = msgpack.Unpacker(raw=False)
        try:
            while True:
                data = self.socket.recv(4096)
                if not data:
                    raise EOFError("connection closed")
                unpacker.feed(data)
                for obj in unpacker:
                    return obj
        except socket.timeout:
            return None
        finally:
            self.socket.settimeout(self.timeout)


def value(v):
    """An OTLP/JSON AnyValue as a Python value."""
    if v is None or not v:
        return None
    (k, x), = v.items()
    if k == "stringValue":
        return x
    if k == "intValue":
        return int(x)
    if k == "doubleValue":
        return float(x)
    if k == "boolValue":
        return x
    if k == "bytesValue":
        return base64.b64decode(x)
    if k == "arrayValue":
        return [value(i) for i in x.get("values", [])]
    if k == "kvlistValue":
        return {kv["key"]: value(kv.get("value")) for kv in x.get("values", [])}
    raise ValueError(k)


def log_records(path):
    """Every log record in a file exporter's output, flattened."""
    out = []
    for line in read_jsonl(path):
        for rl in line.get("resourceLogs", []):
            for sl in rl.get("scopeLogs", []):
                for lr in sl.get("logRecords", []):
                    out.append({
                        "time": int(lr.get("timeUnixNano", 0)),
                        "observed": int(lr.get("observedTimeUnixNano", 0)),
                        "severity": lr.get("severityNumber"),
                        "trace_id": lr.get("traceId"),
                        "body": value(lr.get("body")),
                        "attrs": {kv["key"]: value(kv.get("value")) for kv in lr.get("attributes", [])},
                    })
    return out


class AckedMessages:
    """PackedForward messages of records whose `log` is a decimal id (first..),
    each with its own `chunk`; a request for raw_load.Load."""

    def __init__(self, payload, chunk, first, count):
        self.payload, self.chunk, self.first, self.count = payload, chunk, first, count

    def ids(self):
        return range(self.first, self.first + self.count)


def acked_messages(n, per_message, tag="crash", first_id=1):
    out = []
    for first in range(first_id, first_id + n, per_message):
        count = min(per_message, first_id + n - first)
        chunk = new_chunk()
        entries = [(T0 + i, {"log": str(i)}) for i in range(first, first + count)]
        out.append(AckedMessages(packed_forward(tag, entries, chunk=chunk), chunk, first, count))
    return out


T0 = 1_767_225_600


class ForwardClient:
    """A connection that is opened again after the server went away; a
    message counts only once its `chunk` comes back, as Fluent Bit's
    require_ack_response does. Returns None on ack, else why it must be resent."""

    def __init__(self, port, ack_timeout=10):
        self.port, self.ack_timeout, self.sock = port, ack_timeout, None
        self.unpacker = msgpack.Unpacker(raw=False)

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None

    def send(self, msg):
        try:
            if self.sock is None:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.ack_timeout)
                self.unpacker = msgpack.Unpacker(raw=False)
            self.sock.sendall(msg.payload)
            deadline = time.time() + self.ack_timeout
            while time.time() < deadline:
                for obj in self.unpacker:
                    if obj == {"ack": msg.chunk}:
                        return None
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("closed by the server")
                self.unpacker.feed(data)
            self.close()
            return "no ack"
        except socket.timeout:
            # No ack in time (a refusal): resend on a fresh connection, as fluent clients do.
            self.close()
            return "no ack"
        except OSError:
            self.close()
            return "connection"
