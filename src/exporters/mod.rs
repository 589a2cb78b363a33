//! Exporters: each is a tower `Service` driven by one generic loop that
//! owns the sending queue, the consumers and the retries.

mod compression;
mod debug;
mod driver;
pub mod encode;
mod file;
pub mod kafka;
pub mod loadbalancing;
pub mod otlp_grpc;
mod otlp_http;
pub mod persistent;
pub mod prometheus;
mod prometheusremotewrite;
mod queue;
mod retry;
mod tls;

use aiotel_api::Signal;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::components::Factory;
use crate::pipeline::Consumer;

pub use driver::spawn;
pub use queue::QueueSettings;
pub use retry::RetrySettings;

pub fn factories() -> Vec<Factory> {
    let mut f = vec![otlp_grpc::factory(), otlp_http::factory(), debug::factory(), file::factory()];
    f.extend([prometheus::factory(), prometheusremotewrite::factory(), kafka::factory()]);
    f.push(loadbalancing::factory());
    f
}

/// A started exporter: the consumer pipelines send to, and its driver.
pub struct ExporterHandle {
    pub consumer: Consumer,
    running: RunningExporter,
}

impl ExporterHandle {
    /// Drops this handle's own sender, so the queue closes when the pipelines finish.
    pub fn detach(self) -> RunningExporter {
        self.running
    }
}

pub struct RunningExporter {
    pub id: String,
    pub signal: Signal,
    pub done: JoinHandle<()>,
    /// Cancelled when shutdown's deadline passes: stop retrying, count what is left.
    pub give_up: CancellationToken,
}
