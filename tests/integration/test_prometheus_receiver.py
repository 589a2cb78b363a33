"""The prometheus receiver against real targets: Debian's node-exporter and a
Prometheus server's own /metrics, scraped into the file exporter."""

from conftest import free_port, read_jsonl, wait_until
from prom_util import flags, points, start_node_exporter, start_prometheus, stop, value

CONFIG = """
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: node
          scrape_interval: 1s
          static_configs: [{targets: ["127.0.0.1:NODE_PORT"], labels: {env: test}}]
          metric_relabel_configs:
            - {source_labels: [__name__], regex: "go_.*", action: drop}
        - job_name: prom
          scrape_interval: 1s
          static_configs: [{targets: ["127.0.0.1:PROM_PORT"]}]
exporters:
  file: {path: OUT_PATH}
service:
  pipelines:
    metrics: {receivers: [prometheus], exporters: [file]}
"""


def of(pts, job, name=None):
    return [p for p in pts if p["resource"].get("service.name") == job and (name is None or p["name"] == name)]


def test_scrapes_node_exporter_and_prometheus(spawn, workdir):
    node_port, prom_port = free_port(), free_port()
    node = start_node_exporter(node_port, workdir / "node.log")
    prom = start_prometheus(prom_port, workdir)
    out = workdir / "out.jsonl"
    try:
        a = spawn("a", CONFIG.replace("NODE_PORT", str(node_port)).replace("PROM_PORT", str(prom_port))
                  .replace("OUT_PATH", str(out)))
        # Three scrapes of each target.
        wait_until(lambda: len([p for p in of(points(read_jsonl(out)), "node", "up") if value(p) == 1.0]) >= 3
                   and len(of(points(read_jsonl(out)), "prom", "up")) >= 3, timeout=30, what="three scrapes")
        pts = points(read_jsonl(out))

        # Resource: job and instance.
        node_pts = of(pts, "node")
        assert node_pts
        for p in node_pts:
            assert p["resource"]["service.instance.id"] == f"127.0.0.1:{node_port}"
            assert p["resource"]["server.port"] == str(node_port)
            assert "job" not in p["attrs"] and "instance" not in p["attrs"]
        assert {p["resource"]["service.instance.id"] for p in of(pts, "prom")} == {f"127.0.0.1:{prom_port}"}

        # A counter is a monotonic cumulative sum whose start time stays put.
        cpu = [p for p in node_pts if p["name"] in ("node_cpu_seconds_total", "node_cpu_seconds")]
        assert cpu, sorted({p["name"] for p in node_pts})
        assert all(p["kind"] == "sum" and p["monotonic"] and p["temporality"] == 2 for p in cpu)
        idle = [p for p in cpu if p["attrs"].get("mode") == "idle" and p["attrs"].get("cpu") == "0"]
        assert len(idle) >= 3
        starts = {int(p["point"]["startTimeUnixNano"]) for p in idle}
        assert len(starts) == 1, starts
        start = starts.pop()
        assert 0 < start <= min(int(p["point"]["timeUnixNano"]) for p in idle)
        assert all(p["attrs"]["env"] == "test" for p in idle), "static_configs labels reach every series"
        assert value(idle[-1]) >= value(idle[0]) > 0

        # A gauge stays a gauge, with no start time.
        load = of(pts, "node", "node_load1")
        assert load and all(p["kind"] == "gauge" and int(p["point"].get("startTimeUnixNano", 0)) == 0 for p in load)
        mem = of(pts, "node", "node_memory_MemTotal_bytes")
        assert mem and value(mem[0]) > 1 << 20

        # The drop rule removed the go_* series node-exporter serves; Prometheus' own go_* arrive.
        assert not [p for p in node_pts if p["name"].startswith("go_")]
        prom_pts = of(pts, "prom")
        assert [p for p in prom_pts if p["name"].startswith("go_")]

        # Histograms and summaries keep their shape.
        hist = [p for p in prom_pts if p["name"] == "prometheus_http_request_duration_seconds"]
        assert hist and all(p["kind"] == "histogram" and p["temporality"] == 2 for p in hist)
        h = hist[-1]["point"]
        assert len(h["bucketCounts"]) == len(h["explicitBounds"]) + 1
        assert sum(int(c) for c in h["bucketCounts"]) == int(h["count"])
        assert int(h["startTimeUnixNano"]) > 0
        summ = [p for p in prom_pts if p["name"] == "go_gc_duration_seconds"]
        assert summ and summ[-1]["kind"] == "summary"
        assert {q.get("quantile", 0) for q in summ[-1]["point"]["quantileValues"]} == {0, 0.25, 0.5, 0.75, 1}

        # Synthetic series for every scrape.
        dur = of(pts, "node", "scrape_duration_seconds")
        assert dur and 0 < value(dur[-1]) < 5
        scraped = of(pts, "node", "scrape_samples_scraped")
        post = of(pts, "node", "scrape_samples_post_metric_relabeling")
        assert value(scraped[-1]) > value(post[-1]) > 0, "the drop rule shows in the sample counts"

        # The target goes down: up = 0 and its series are marked stale.
        n_lines = len(read_jsonl(out))
        stop(node)

        def down():
            later = points(read_jsonl(out)[n_lines:])
            return [p for p in of(later, "node", "up") if value(p) == 0.0] and later
        later = wait_until(down, timeout=20, what="up = 0")
        stale = [p for p in of(later, "node") if flags(p) & 1]
        names = {p["name"] for p in stale}
        assert "node_load1" in names and {"node_cpu_seconds_total", "node_cpu_seconds"} & names, names
        stale_idle = [p for p in stale if p["name"].startswith("node_cpu_seconds") and p["attrs"].get("mode") == "idle"
                      and p["attrs"].get("cpu") == "0"]
        assert stale_idle and int(stale_idle[0]["point"]["startTimeUnixNano"]) == start
        assert "asDouble" not in stale_idle[0]["point"] or value(stale_idle[0]) == 0
        # Prometheus, still up, is not affected.
        assert all(value(p) == 1.0 for p in of(later, "prom", "up"))
        assert a.metric_sum("aiotel_receiver_accepted_metric_points_total", receiver="prometheus") > 0

        # Shutdown ends the live target's series with staleness markers too.
        n_lines = len(read_jsonl(out))
        assert a.stop(timeout=15) == 0
        final = points(read_jsonl(out)[n_lines:])
        ended = {p["name"] for p in of(final, "prom") if flags(p) & 1}
        assert "prometheus_http_request_duration_seconds" in ended and "go_gc_duration_seconds" in ended, ended
    finally:
        stop(node)
        stop(prom)


BAD = """
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: k8s
          kubernetes_sd_configs: [{role: pod}]
exporters:
  file: {path: /dev/null}
service:
  pipelines:
    metrics: {receivers: [prometheus], exporters: [file]}
"""


def test_unsupported_scrape_keys_are_rejected(workdir):
    import subprocess
    from conftest import aiotel_bin
    cfg = workdir / "bad.yaml"
    cfg.write_text(BAD)
    r = subprocess.run([aiotel_bin(), "validate", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    msg = r.stdout + r.stderr
    assert "kubernetes_sd_configs" in msg and "not supported" in msg, msg


GARBAGE = """
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: junk
          scrape_interval: 1s
          static_configs: [{targets: ["127.0.0.1:JUNK_PORT"]}]
        - job_name: node
          scrape_interval: 1s
          static_configs: [{targets: ["127.0.0.1:NODE_PORT"]}]
        - job_name: limited
          scrape_interval: 1s
          sample_limit: 5
          static_configs: [{targets: ["127.0.0.1:NODE_PORT"]}]
exporters:
  file: {path: OUT_PATH}
service:
  pipelines:
    metrics: {receivers: [prometheus], exporters: [file]}
"""


def test_malformed_exposition_fails_only_that_target(spawn, workdir):
    """A target serving garbage gets up = 0 and a logged parse error; the daemon and other targets carry on."""
    import http.server
    import threading

    class Junk(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"# TYPE ok gauge\nok 1\nthis is {not valid\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Junk)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    node_port = free_port()
    node = start_node_exporter(node_port, workdir / "node.log")
    out = workdir / "out.jsonl"
    try:
        a = spawn("a", GARBAGE.replace("JUNK_PORT", str(srv.server_address[1])).replace("NODE_PORT", str(node_port))
                  .replace("OUT_PATH", str(out)))
        wait_until(lambda: len(of(points(read_jsonl(out)), "junk", "up")) >= 2
                   and len(of(points(read_jsonl(out)), "node", "up")) >= 2, what="two scrapes each")
        pts = points(read_jsonl(out))
        assert {value(p) for p in of(pts, "junk", "up")} == {0.0}
        assert not of(pts, "junk", "ok"), "nothing from a malformed scrape is kept"
        assert {value(p) for p in of(pts, "node", "up")} == {1.0}
        assert "cannot parse the response: line 3" in a.logs()
        # Over sample_limit, the whole scrape fails as in Prometheus.
        wait_until(lambda: len(of(points(read_jsonl(out)), "limited", "up")) >= 2, what="limited scrapes")
        pts = points(read_jsonl(out))
        assert {value(p) for p in of(pts, "limited", "up")} == {0.0}
        assert {p["name"] for p in of(pts, "limited")} <= {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                                                           "scrape_samples_post_metric_relabeling", "scrape_series_added"}
        assert "sample limit exceeded" in a.logs()
        assert a.proc.poll() is None
    finally:
        stop(node)
        srv.shutdown()


CLIENT = """
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: om
          scrape_interval: 1s
          static_configs: [{targets: ["127.0.0.1:APP_PORT"]}]
        - job_name: text
          scrape_interval: 1s
          scrape_protocols: [PrometheusText0.0.4]
          static_configs: [{targets: ["127.0.0.1:APP_PORT"]}]
exporters:
  file: {path: OUT_PATH}
service:
  pipelines:
    metrics: {receivers: [prometheus], exporters: [file]}
"""


def test_openmetrics_and_text_from_the_python_client(spawn, workdir):
    """prometheus_client negotiates OpenMetrics or text 0.0.4 from Accept: both map alike,
    `_created` becomes the start time and OpenMetrics exemplars are kept."""
    import time
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

    reg = CollectorRegistry()
    before = time.time()
    c = Counter("app_requests", "Requests served", ["route"], registry=reg)
    c.labels("/chat").inc(3, exemplar={"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"})
    h = Histogram("app_latency_seconds", "Latency", buckets=[0.1, 1], registry=reg)
    for v in (0.05, 0.5, 5):
        h.observe(v)
    Gauge("app_queue", "Queue depth", registry=reg).set(7)
    reg.set_target_info({"deployment": "canary", "region": "eu-west"})
    after = time.time()
    port = free_port()
    server, _ = start_http_server(port, addr="127.0.0.1", registry=reg)
    out = workdir / "out.jsonl"
    try:
        spawn("a", CLIENT.replace("APP_PORT", str(port)).replace("OUT_PATH", str(out)))
        wait_until(lambda: len(of(points(read_jsonl(out)), "om", "up")) >= 2
                   and len(of(points(read_jsonl(out)), "text", "up")) >= 2, what="two scrapes each")
        pts = points(read_jsonl(out))
        for job, counter in (("om", "app_requests"), ("text", "app_requests_total")):
            got = of(pts, job, counter)
            assert got, (job, sorted({p["name"] for p in of(pts, job)}))
            p = got[0]
            assert p["kind"] == "sum" and p["monotonic"] and value(p) == 3.0 and p["attrs"]["route"] == "/chat"
            start = int(p["point"]["startTimeUnixNano"]) / 1e9
            assert before - 0.001 <= start <= after + 0.001, (job, start, before, after)
            hist = of(pts, job, "app_latency_seconds")
            assert hist and hist[0]["kind"] == "histogram"
            hp = hist[0]["point"]
            assert [int(x) for x in hp["bucketCounts"]] == [1, 1, 1] and [float(b) for b in hp["explicitBounds"]] == [0.1, 1.0]
            assert before - 0.001 <= int(hp["startTimeUnixNano"]) / 1e9 <= after + 0.001
            assert [value(q) for q in of(pts, job, "app_queue")][:1] == [7.0]
            assert not [q for q in of(pts, job) if q["name"].endswith("_created")], "_created is a start time, not a series"
            # target_info is resource attributes, not a series.
            assert all(q["resource"]["deployment"] == "canary" and q["resource"]["region"] == "eu-west"
                       for q in of(pts, job)), job
            assert not [q for q in of(pts, job) if q["name"] in ("target", "target_info")]
        ex = of(pts, "om", "app_requests")[0]["point"]["exemplars"][0]
        assert ex["traceId"].lower() == "0af7651916cd43dd8448eb211c80319c"
        assert ex["spanId"].lower() == "b7ad6b7169203331"
        assert float(ex["asDouble"]) == 3.0
        assert not of(pts, "text", "app_requests_total")[0]["point"].get("exemplars")
    finally:
        server.shutdown()


AUTH = """
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: good
          scrape_interval: 1s
          scheme: https
          tls_config: {ca_file: CA_FILE}
          basic_auth: {username: scraper, password_file: PW_FILE}
          static_configs: [{targets: ["localhost:NODE_PORT"]}]
        - job_name: skipverify
          scrape_interval: 1s
          scheme: https
          tls_config: {insecure_skip_verify: true}
          basic_auth: {username: scraper, password: s3cret}
          static_configs: [{targets: ["127.0.0.1:NODE_PORT"]}]
        - job_name: noauth
          scrape_interval: 1s
          scheme: https
          tls_config: {ca_file: CA_FILE}
          static_configs: [{targets: ["localhost:NODE_PORT"]}]
        - job_name: untrusted
          scrape_interval: 1s
          scheme: https
          basic_auth: {username: scraper, password: s3cret}
          static_configs: [{targets: ["localhost:NODE_PORT"]}]
        - job_name: bearer
          scrape_interval: 1s
          authorization: {credentials: tok3n}
          params: {module: [gpu]}
          static_configs: [{targets: ["127.0.0.1:BEARER_PORT"]}]
exporters:
  file: {path: OUT_PATH}
service:
  pipelines:
    metrics: {receivers: [prometheus], exporters: [file]}
"""


def test_tls_basic_auth_and_bearer(spawn, workdir):
    """node-exporter behind TLS and basic auth (its own --web.config.file), and a bearer-token page."""
    import http.server
    import subprocess
    import threading

    import bcrypt
    from test_tls import make_cert

    ca, cert, key = make_cert(workdir)
    pw = workdir / "pw"
    pw.write_text("s3cret\n")
    web = workdir / "web.yml"
    web.write_text(f"tls_server_config: {{cert_file: {cert}, key_file: {key}}}\n"
                   f"basic_auth_users: {{scraper: '{bcrypt.hashpw(b's3cret', bcrypt.gensalt(4)).decode()}'}}\n")
    node_port = free_port()
    node = subprocess.Popen(["/usr/bin/prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{node_port}",
                             f"--web.config.file={web}", "--collector.disable-defaults", "--collector.loadavg"],
                            stdout=open(workdir / "node.log", "ab"), stderr=subprocess.STDOUT)
    seen = []

    class Bearer(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            ok = self.headers.get("Authorization") == "Bearer tok3n"
            body = b"gpu_ok 1\n" if ok else b"denied\n"
            self.send_response(200 if ok else 403)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Bearer)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    out = workdir / "out.jsonl"
    try:
        spawn("a", AUTH.replace("CA_FILE", str(ca)).replace("PW_FILE", str(pw)).replace("NODE_PORT", str(node_port))
              .replace("BEARER_PORT", str(srv.server_address[1])).replace("OUT_PATH", str(out)))
        jobs = ("good", "skipverify", "noauth", "untrusted", "bearer")
        wait_until(lambda: all(len(of(points(read_jsonl(out)), j, "up")) >= 2 for j in jobs), what="two scrapes per job")
        pts = points(read_jsonl(out))
        ups = {j: {value(p) for p in of(pts, j, "up")} for j in jobs}
        # The first scrape of node-exporter may race its TLS listener starting; later ones must succeed.
        assert value(of(pts, "good", "up")[-1]) == 1.0 and value(of(pts, "skipverify", "up")[-1]) == 1.0, ups
        assert ups["noauth"] == {0.0} and ups["untrusted"] == {0.0} and ups["bearer"] == {1.0}, ups
        assert of(pts, "good", "node_load1") and of(pts, "skipverify", "node_load1")
        assert not of(pts, "noauth", "node_load1") and not of(pts, "untrusted", "node_load1")
        assert value(of(pts, "bearer", "gpu_ok")[0]) == 1.0
        assert seen[0] == ("/metrics?module=gpu", "Bearer tok3n")
    finally:
        stop(node)
        srv.shutdown()
