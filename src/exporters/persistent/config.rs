use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// What `append` does when the queue has reached `max_size_mib`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum FullPolicy {
    /// Refuse with a retryable error: the receiver tells its client to retry.
    #[default]
    Block,
    /// Make room by deleting the oldest unsent records, counted as dropped.
    DropOldest,
}

/// `sending_queue.persistent`: the one internal model of a disk-backed
/// queue; `storage: file_storage/<name>` resolves to the same struct.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PersistentSettings {
    /// Each exporter and signal gets its own sub-directory here.
    pub directory: PathBuf,
    pub max_size_mib: u64,
    /// How often appended records are fsynced; zero syncs every record.
    #[serde(with = "humantime_serde")]
    pub fsync_interval: Duration,
    pub full_policy: FullPolicy,
}

impl Default for PersistentSettings {
    fn default() -> Self {
        Self {
            directory: PathBuf::new(),
            max_size_mib: 1024,
            fsync_interval: Duration::from_secs(1),
            full_policy: FullPolicy::Block,
        }
    }
}

impl PersistentSettings {
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.directory.as_os_str().is_empty() {
            return Err(("directory".into(), "missing".into()));
        }
        if self.max_size_mib == 0 {
            return Err(("max_size_mib".into(), "must be greater than zero".into()));
        }
        Ok(())
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_size_mib.saturating_mul(1 << 20)
    }
}
