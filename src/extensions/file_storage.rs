//! `file_storage`: the Collector's storage extension, here the directory
//! and limits of persistent sending queues that name it in `storage`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aiotel_api::Signal;
use futures::future::BoxFuture;
use serde::Deserialize;

use crate::components::{parse_block, ComponentId, ExtensionConfig, Factory, Kind, Parsed, Running, Stability};
use crate::config::yaml::Value;
use crate::exporters::persistent::{FullPolicy, PersistentSettings};
use crate::service::ServiceCtx;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FileStorageConfig {
    pub directory: PathBuf,
    /// The Collector's lock timeout for its database; accepted, unused:
    /// each queue owns its own files.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// `true` fsyncs every record, as the Collector does; otherwise every `fsync_interval`.
    pub fsync: bool,
    pub create_directory: bool,
    /// Not in the Collector: the queue's own limits (see `sending_queue.persistent`).
    #[serde(with = "humantime_serde")]
    pub fsync_interval: Duration,
    pub max_size_mib: u64,
    pub full_policy: FullPolicy,
    /// Rejected below: the log deletes delivered segments itself.
    pub compaction: Option<serde_yaml_ng::Value>,
}

impl Default for FileStorageConfig {
    fn default() -> Self {
        let p = PersistentSettings::default();
        Self {
            directory: PathBuf::new(),
            timeout: Duration::from_secs(1),
            fsync: false,
            create_directory: false,
            fsync_interval: p.fsync_interval,
            max_size_mib: p.max_size_mib,
            full_policy: p.full_policy,
            compaction: None,
        }
    }
}

pub fn factory() -> Factory {
    Factory { kind: Kind::Extension, ty: "file_storage", stability: Stability::Alpha, signals: &Signal::ALL, parse }
}

fn parse(raw: Value, base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let mut cfg: FileStorageConfig = parse_block(raw)?;
    if cfg.compaction.is_some() {
        return Err(vec![(
            "compaction".into(),
            "not supported: the queue deletes each segment once its records are delivered".into(),
        )]);
    }
    if cfg.directory.as_os_str().is_empty() {
        return Err(vec![("directory".into(), "missing".into())]);
    }
    if cfg.directory.is_relative() {
        cfg.directory = base.join(&cfg.directory);
    }
    if let Err((k, e)) = cfg.settings().validate() {
        return Err(vec![(k, e)]);
    }
    Ok(Parsed::Extension(Arc::new(cfg)))
}

impl FileStorageConfig {
    fn settings(&self) -> PersistentSettings {
        PersistentSettings {
            directory: self.directory.clone(),
            max_size_mib: self.max_size_mib,
            fsync_interval: if self.fsync { Duration::ZERO } else { self.fsync_interval },
            full_policy: self.full_policy,
        }
    }
}

impl ExtensionConfig for FileStorageConfig {
    fn start(&self, id: &ComponentId, ctx: &ServiceCtx) -> BoxFuture<'static, Result<Box<dyn Running>, String>> {
        let res = (|| {
            if !self.directory.is_dir() {
                if !self.create_directory {
                    return Err(format!(
                        "directory {} does not exist (set create_directory: true)",
                        self.directory.display()
                    ));
                }
                std::fs::create_dir_all(&self.directory)
                    .map_err(|e| format!("cannot create {}: {e}", self.directory.display()))?;
            }
            ctx.storages.lock().map_err(|_| "storage registry poisoned")?.insert(id.to_string(), self.settings());
            Ok(Box::new(Idle) as Box<dyn Running>)
        })();
        Box::pin(async move { res })
    }
}

/// Nothing runs: the queues own their files.
struct Idle;

impl Running for Idle {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}
