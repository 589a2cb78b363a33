use serde::Deserialize;

/// The Collector's `sending_queue` settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    /// Off: each export runs while the pipeline waits, and the client's ack waits for delivery.
    pub enabled: bool,
    pub num_consumers: usize,
    /// Capacity in batches.
    pub queue_size: usize,
    /// Wait for room instead of refusing when full.
    pub block_on_overflow: bool,
    /// Only `requests` is supported: the queue counts batches.
    pub sizer: Sizer,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Sizer {
    #[default]
    Requests,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self { enabled: true, num_consumers: 10, queue_size: 1000, block_on_overflow: false, sizer: Sizer::Requests }
    }
}

impl QueueSettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.enabled && (self.num_consumers == 0 || self.queue_size == 0) {
            return Err("num_consumers and queue_size must be greater than zero".into());
        }
        Ok(())
    }
}
