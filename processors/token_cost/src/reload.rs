//! The price table in force: loaded from the embedded table and the user's
//! file, swapped atomically on reload, and a poller that reloads when the
//! file changes.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use crate::prices::PriceTable;

/// What the poller compares: the file's mtime and length.
type Signature = (Option<SystemTime>, u64);

pub(crate) struct PriceSource {
    path: Option<PathBuf>,
    include_default: bool,
    table: ArcSwap<PriceTable>,
    /// The file as last read (or tried), so a broken file is not retried
    /// until it changes again.
    seen: Mutex<Option<Signature>>,
}

impl PriceSource {
    pub fn open(path: Option<PathBuf>, include_default: bool) -> Result<PriceSource, String> {
        let src = PriceSource {
            path,
            include_default,
            table: ArcSwap::from_pointee(PriceTable::embedded()),
            seen: Mutex::new(None),
        };
        src.reload()?;
        Ok(src)
    }

    pub fn table(&self) -> arc_swap::Guard<Arc<PriceTable>> {
        self.table.load()
    }

    /// Re-reads the file. On any error the table in force stays.
    pub fn reload(&self) -> Result<(), String> {
        let Some(path) = &self.path else { return Ok(()) };
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = signature(path);
        let table = self.build(path).map_err(|e| format!("price file {}: {e}", path.display()))?;
        self.table.store(Arc::new(table));
        Ok(())
    }

    fn build(&self, path: &Path) -> Result<PriceTable, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
        let user = PriceTable::from_yaml(&text)?;
        // An empty or truncated file (caught mid-write) must not wipe the prices.
        if user.is_empty() && !user.has_aliases() {
            return Err("defines no models and no aliases".into());
        }
        let table = if self.include_default { PriceTable::embedded().overlay(user)? } else { user };
        table.check_aliases()?;
        Ok(table)
    }

    fn changed(&self) -> bool {
        self.path.as_deref().is_some_and(|p| signature(p) != *self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn signature(p: &Path) -> Option<Signature> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok(), m.len()))
}

/// Polls the price file every `interval` and reloads it when its mtime or
/// length changed. Stops (and is joined) when dropped.
pub(crate) struct Watcher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    pub fn spawn(src: Arc<PriceSource>, interval: Duration) -> Result<Watcher, String> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("aiotel-price-watch".into())
            .spawn(move || {
                // Dropping the sender ends the wait with `Disconnected`.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    if src.changed() {
                        match src.reload() {
                            Ok(()) => tracing::info!(models = src.table().len(), "token_cost: price file reloaded"),
                            Err(e) => tracing::warn!("token_cost: keeping the previous prices: {e}"),
                        }
                    }
                }
            })
            .map_err(|e| format!("cannot start the price file watcher: {e}"))?;
        Ok(Watcher { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
