use tracing_subscriber::EnvFilter;

use crate::config::TelemetryConfig;

/// Logs go to stderr, so the `debug` exporter owns stdout.
pub fn init_logs(cfg: &TelemetryConfig) {
    let filter = EnvFilter::try_from_env("AIOTEL_LOG")
        .unwrap_or_else(|_| EnvFilter::try_new(&cfg.logs.level).unwrap_or_else(|_| EnvFilter::new("info")));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if cfg.logs.encoding == "json" { builder.json().try_init() } else { builder.try_init() };
}
