//! Receivers: they decode what clients send and wait for the pipeline's
//! answer, so refusals and failures reach the client as retryable errors.

mod dcgm;
mod fluentforward;
mod ingest;
mod kafka;
mod otlp;
pub mod prometheus;

use crate::components::Factory;
pub use ingest::{ingest, Rejected};

pub fn factories() -> Vec<Factory> {
    vec![otlp::factory(), fluentforward::factory(), prometheus::factory(), dcgm::factory(), kafka::factory()]
}
