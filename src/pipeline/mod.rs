//! The pipeline runtime: bounded queues between stages, processors run in
//! one task per pipeline, fan-out to exporters and connectors.

mod build;
mod consumer;
mod runner;

pub use build::{build, Graph};
pub use consumer::{Consumer, Consumers, Fanout, Observer, OnFull, Shared};
