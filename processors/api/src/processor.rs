use std::time::Instant;

use crate::Batch;

/// What a processor is told about where it runs.
#[derive(Debug, Clone)]
pub struct ProcessorContext {
    /// The component id, `type[/name]`.
    pub id: String,
    /// The pipeline id, `signal[/name]`.
    pub pipeline: String,
}

/// A processor transforms batches of one pipeline.
///
/// It may pass batches on, hold them (batching, tail sampling) or refuse
/// them by failing their acks. It never blocks: the runtime calls it from
/// the pipeline task and drives its timers.
pub trait Processor: Send + 'static {
    fn process(&mut self, batch: Batch, out: &mut Vec<Batch>);

    /// When the processor next wants [`Processor::on_deadline`] to run.
    fn next_deadline(&self) -> Option<Instant> {
        None
    }

    fn on_deadline(&mut self, _now: Instant, _out: &mut Vec<Batch>) {}

    /// The pipeline's input queue is empty: nothing more will arrive soon.
    fn on_idle(&mut self, _out: &mut Vec<Batch>) {}

    /// Whether this processor only reads the data it is given, so the
    /// runtime may call [`Processor::observe`] with a borrowed payload
    /// instead of handing it a copy of its own.
    fn observes(&self) -> bool {
        false
    }

    /// Reads a payload that goes on elsewhere; only called when `observes` is true.
    fn observe(&mut self, _payload: &crate::Payload) {}

    /// Counters worth exporting as self-metrics (`name`, value); read about once a second.
    fn stats(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }

    /// Hands over everything held; called once on shutdown.
    fn flush(&mut self, _out: &mut Vec<Batch>) {}
}
