use serde::Deserialize;

use super::persistent::PersistentSettings;
use crate::service::ServiceCtx;

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
    /// A `file_storage/<name>` extension that keeps the queue on disk.
    pub storage: Option<String>,
    /// The same as `storage`, configured in place.
    pub persistent: Option<PersistentSettings>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Sizer {
    #[default]
    Requests,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            block_on_overflow: false,
            sizer: Sizer::Requests,
            storage: None,
            persistent: None,
        }
    }
}

impl QueueSettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.enabled && (self.num_consumers == 0 || self.queue_size == 0) {
            return Err("num_consumers and queue_size must be greater than zero".into());
        }
        if self.storage.is_some() && self.persistent.is_some() {
            return Err("set either storage or persistent, not both".into());
        }
        if let Some(s) = &self.storage {
            if !s.starts_with("file_storage") {
                return Err(format!("storage {s:?}: only file_storage extensions are supported"));
            }
        }
        if let Some(p) = &self.persistent {
            p.validate().map_err(|(k, e)| format!("persistent::{k}: {e}"))?;
        }
        if !self.enabled && (self.storage.is_some() || self.persistent.is_some()) {
            return Err("a persistent queue needs enabled: true".into());
        }
        Ok(())
    }

    /// The disk queue's settings, with `storage` resolved to its extension.
    pub fn persistent_settings(&self, ctx: &ServiceCtx) -> Result<Option<PersistentSettings>, String> {
        if let Some(p) = &self.persistent {
            return Ok(Some(p.clone()));
        }
        let Some(name) = &self.storage else { return Ok(None) };
        let storages = ctx.storages.lock().map_err(|_| "storage registry poisoned")?;
        match storages.get(name) {
            Some(p) => Ok(Some(p.clone())),
            None => Err(format!(
                "sending_queue::storage: extension {name:?} is not configured or not listed in service::extensions"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> QueueSettings {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn persistent_and_storage_are_validated() {
        let q = parse("persistent: {directory: /q, max_size_mib: 5, fsync_interval: 250ms, full_policy: drop_oldest}");
        assert_eq!(q.validate(), Ok(()));
        let p = q.persistent.unwrap();
        assert_eq!((p.max_bytes(), p.fsync_interval.as_millis()), (5 << 20, 250));
        assert_eq!(p.full_policy, super::super::persistent::FullPolicy::DropOldest);
        let both = parse("{storage: file_storage/a, persistent: {directory: /q}}");
        assert_eq!(both.validate(), Err("set either storage or persistent, not both".into()));
        let other = parse("{storage: redis_storage}");
        assert!(other.validate().unwrap_err().contains("only file_storage"));
        assert_eq!(parse("persistent: {}").validate(), Err("persistent::directory: missing".into()));
        let off = parse("{enabled: false, persistent: {directory: /q}}");
        assert!(off.validate().unwrap_err().contains("enabled: true"));
        assert!(serde_yaml_ng::from_str::<QueueSettings>("persistent: {directory: /q, max_size: 3}").is_err());
    }
}
