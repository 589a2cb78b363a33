"""The README's run command: aiotel with no --config serves OTLP at once on
the default ports and prints what it receives with the debug exporter."""

import subprocess
import time
import urllib.request

from conftest import aiotel_bin, wait_until
from load import make_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter


def test_embedded_default_config_serves_otlp(tmp_path):
    out = open(tmp_path / "stdout", "wb")
    proc = subprocess.Popen([aiotel_bin()], stdout=out, stderr=subprocess.PIPE)
    try:
        def ready():
            try:
                return urllib.request.urlopen("http://localhost:13133/", timeout=1).status == 200
            except OSError:
                return False

        wait_until(ready, timeout=30, what="health check on 13133")
        assert OTLPSpanExporter(endpoint="localhost:4317", insecure=True).export(make_spans(2)).name == "SUCCESS"
        assert HttpSpanExporter(endpoint="http://localhost:4318/v1/traces").export(make_spans(3)).name == "SUCCESS"
        metrics = urllib.request.urlopen("http://localhost:8888/metrics", timeout=5).read().decode()
        assert 'aiotel_receiver_accepted_spans_total{receiver="otlp",transport="grpc"} 2' in metrics
        assert 'aiotel_receiver_accepted_spans_total{receiver="otlp",transport="http"} 3' in metrics
        wait_until(lambda: (tmp_path / "stdout").read_text().count("traces: 1 resource(s)") >= 2, what="debug output")
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
