//! Self-telemetry: aiotel's own metrics and logs.

mod logs;
mod metrics;
mod process;

pub use logs::init_logs;
pub use metrics::{ComponentCounters, SelfMetrics};
pub use process::{cpu_seconds, rss_bytes};
