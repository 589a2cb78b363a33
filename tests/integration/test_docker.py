"""Docker cannot run here; these checks keep the image files consistent with the project."""

import re
import subprocess

from conftest import ROOT, aiotel_bin


def test_dockerfile_builds_and_runs_the_aiotel_binary():
    text = (ROOT / "docker" / "Dockerfile").read_text()
    assert "cargo build --release --locked --bin aiotel" in text
    # librdkafka builds from source in the build stage.
    assert all(pkg in text for pkg in ("cmake", "g++", "zlib1g-dev", "libcurl4-openssl-dev"))
    assert "COPY --from=build /src/target/release/aiotel /usr/local/bin/aiotel" in text
    assert 'ENTRYPOINT ["/usr/local/bin/aiotel"]' in text
    exposed = set(re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split())
    assert exposed == {"4317", "4318", "8888", "13133"}
    toolchain = (ROOT / "rust-toolchain.toml").read_text()
    major_minor = re.search(r'channel = "(\d+\.\d+)', toolchain).group(1)
    assert f"FROM rust:{major_minor}-" in text, "the build image must use the pinned toolchain"


def test_image_config_validates_and_listens_on_the_exposed_ports():
    cfg = ROOT / "docker" / "config.yaml"
    r = subprocess.run([aiotel_bin(), "validate", "--config", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = cfg.read_text()
    for port in ("4317", "4318", "8888", "13133"):
        assert f"0.0.0.0:{port}" in text


def test_compose_runs_aiotel_as_gateway():
    text = (ROOT / "docker" / "compose.yaml").read_text()
    assert "dockerfile: docker/Dockerfile" in text
    assert "OTLP_BACKEND: jaeger:4317" in text
    for port in ("4317", "4318", "8888", "13133"):
        assert f'"{port}:{port}"' in text
