//! Interfaces shared by the aiotel daemon and its processor crates.
//!
//! Processors are pure transformations of OTLP batches: they see [`Batch`]es,
//! never sockets, so each can be tested and benchmarked on its own.

mod ack;
mod error;
mod payload;
mod processor;

pub use ack::{Ack, AckReceiver};
pub use error::{ErrorKind, PipelineError};
pub use payload::{Batch, Payload, Signal};
pub use processor::{Processor, ProcessorContext};

/// Re-exported so processor crates use the same OTLP types as the daemon.
pub use opentelemetry_proto::tonic as otlp;
