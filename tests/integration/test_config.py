"""Config validation through the real binary: every error at once, with paths."""

import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, aiotel_bin

FIVE_MISTAKES = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpont: localhost:4317
processors:
  batch:
    send_batch_size: 100
    send_batch_max_size: 10
exporters:
  otlp/backend:
    tls: {insecure: true}
  kafkaa: {}
service:
  pipelines:
    traces:
      receivers: [otlp/x]
      processors: [batch]
      exporters: [otlp/backend]
"""


def validate(*configs, env=None):
    args = [aiotel_bin(), "validate"]
    for c in configs:
        args += ["--config", str(c)]
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=30)


def test_five_mistakes_are_all_reported_with_paths_and_lines(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(FIVE_MISTAKES)
    r = validate(cfg)
    assert r.returncode != 0
    lines = [l.strip() for l in r.stderr.splitlines() if l.strip().startswith("- ")]
    assert "5 error(s)" in r.stderr, r.stderr
    expected = [
        ("receivers::otlp::protocols::grpc::endpont: unknown field `endpont`", ":5)"),
        ("processors::batch: send_batch_max_size must be greater than or equal to send_batch_size", ":7)"),
        ("exporters::otlp/backend::endpoint: missing", ":11)"),
        ('exporters::kafkaa: unknown exporter type "kafkaa"', ":13)"),
        ('service::pipelines::traces: references receiver "otlp/x" which is not configured', ":16)"),
    ]
    assert len(lines) == 5, r.stderr
    for (msg, loc), line in zip(expected, lines):
        assert msg in line, f"{msg!r} not in {line!r}"
        assert line.endswith(loc), f"{line!r} should point at line {loc}"


def test_unknown_key_is_rejected_anywhere(tmp_path):
    cfg = tmp_path / "typo.yaml"
    cfg.write_text(
        "exporters:\n  otlp:\n    endpoint: x:4317\n    sending_queue: {queue_sise: 5}\n"
        "receivers:\n  otlp: {protocols: {http: {}}}\n"
        "service:\n  pipelines:\n    logs: {receivers: [otlp], exporters: [otlp]}\n  telemtry: {}\n"
    )
    r = validate(cfg)
    assert r.returncode != 0
    assert "exporters::otlp::sending_queue::queue_sise: unknown field `queue_sise`" in r.stderr
    assert "service::telemtry: unknown field `telemtry`" in r.stderr


def test_env_expansion_and_merging(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(
        "receivers:\n  otlp: {protocols: {grpc: {endpoint: '127.0.0.1:${env:GRPC_PORT}'}}}\n"
        "exporters:\n  debug: {verbosity: '${env:VERB:-normal}'}\n"
        "service:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [debug]}\n"
    )
    over = tmp_path / "over.yaml"
    over.write_text("exporters:\n  debug: {verbosity: '$${env:NOT_EXPANDED}'}\n")
    env = {"GRPC_PORT": "4999", "PATH": "/usr/bin:/bin"}
    assert validate(base, env=env).returncode == 0
    # The second file overrides the first; $$ keeps a literal $, which is not a valid verbosity.
    r = validate(base, over, env=env)
    assert r.returncode != 0 and "exporters::debug::verbosity" in r.stderr and "${env:NOT_EXPANDED}" in r.stderr
    bad = dict(env, VERB="loud")
    r = validate(base, env=bad)
    assert r.returncode != 0 and "unknown variant `loud`" in r.stderr


def test_connector_must_join_two_pipelines(tmp_path):
    cfg = tmp_path / "conn.yaml"
    cfg.write_text(
        "receivers:\n  otlp: {protocols: {grpc: {}}}\nexporters:\n  debug: {}\nconnectors:\n  forward: {}\n"
        "service:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [forward]}\n"
    )
    r = validate(cfg)
    assert r.returncode != 0
    assert "connectors::forward: a connector must be used as an exporter in one pipeline and as a receiver in another" in r.stderr


@pytest.mark.parametrize("example", sorted((ROOT / "config-examples").glob("*.yaml")), ids=lambda p: p.name)
def test_config_examples_validate(example):
    r = validate(example)
    assert r.returncode == 0, r.stderr


def test_default_config_validates_and_components_lists_types():
    assert validate().returncode == 0
    r = subprocess.run([aiotel_bin(), "components"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for t in ["otlp", "batch", "memory_limiter", "otlphttp", "debug", "file", "forward", "health_check"]:
        assert f"  {t} " in r.stdout, t
    assert "stable" in r.stdout and "beta" in r.stdout


def test_pipeline_acknowledgements_mode_is_checked(tmp_path):
    cfg = tmp_path / "acks.yaml"
    base = ("receivers:\n  otlp: {protocols: {grpc: {endpoint: '127.0.0.1:0'}}}\nexporters:\n  debug: {}\n"
            "service:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [debug], acknowledgements: MODE}\n")
    cfg.write_text(base.replace("MODE", "always"))
    r = validate(cfg)
    assert r.returncode != 0
    assert ("service::pipelines::traces::acknowledgements: unknown variant `always`, "
            "expected `accepted` or `durable`") in r.stderr
    for mode in ("accepted", "durable"):
        cfg.write_text(base.replace("MODE", mode))
        assert validate(cfg).returncode == 0, mode
