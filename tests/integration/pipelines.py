"""Config templates shared by the tests: a front aiotel forwarding to a back aiotel with a file exporter."""

BACK = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:BACK_PORT"}
exporters:
  file: {path: OUT_PATH}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [file]}
    metrics: {receivers: [otlp], exporters: [file]}
    logs: {receivers: [otlp], exporters: [file]}
"""


def back(port, out):
    return BACK.replace("BACK_PORT", str(port)).replace("OUT_PATH", str(out))
