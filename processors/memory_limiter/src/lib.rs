//! The `memory_limiter` processor, with the Collector's settings.
//!
//! It measures the process's resident memory every `check_interval` and,
//! while it is above the soft limit (`limit - spike`), refuses data with a
//! retryable `ResourceExhausted` error that receivers turn into gRPC
//! `RESOURCE_EXHAUSTED` or HTTP 429 with `Retry-After`. Above the soft
//! limit it first hands freed heap memory back to the OS, as the Collector
//! forces a garbage collection there.

use std::time::{Duration, Instant};

use aiotel_api::{Batch, PipelineError, Processor};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryLimiterConfig {
    #[serde(with = "humantime_serde")]
    pub check_interval: Duration,
    pub limit_mib: u64,
    pub spike_limit_mib: u64,
    pub limit_percentage: u32,
    pub spike_limit_percentage: u32,
}

impl MemoryLimiterConfig {
    pub fn validate(&self) -> Result<(), String> {
        let mut errs = Vec::new();
        if self.check_interval.is_zero() {
            errs.push("check_interval must be greater than zero");
        }
        if self.limit_mib == 0 && self.limit_percentage == 0 {
            errs.push("one of limit_mib or limit_percentage must be set");
        }
        if self.limit_mib > 0 && self.spike_limit_mib >= self.limit_mib {
            errs.push("spike_limit_mib must be smaller than limit_mib");
        }
        if self.limit_percentage > 100 {
            errs.push("limit_percentage must be at most 100");
        }
        if self.limit_percentage > 0 && self.spike_limit_percentage >= self.limit_percentage {
            errs.push("spike_limit_percentage must be smaller than limit_percentage");
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }

    /// The hard and soft limits in bytes.
    pub fn limits(&self, total_memory: u64) -> (u64, u64) {
        const MIB: u64 = 1 << 20;
        let (hard, spike) = if self.limit_mib > 0 {
            let spike = if self.spike_limit_mib > 0 { self.spike_limit_mib } else { self.limit_mib / 5 };
            (self.limit_mib * MIB, spike * MIB)
        } else {
            let hard = total_memory / 100 * self.limit_percentage as u64;
            (hard, total_memory / 100 * self.spike_limit_percentage as u64)
        };
        (hard, hard.saturating_sub(spike))
    }
}

/// Reads how much memory the process uses now, in bytes.
pub type MemorySampler = Box<dyn FnMut() -> u64 + Send>;

/// Gives memory the process no longer uses back to the OS.
pub type MemoryRelease = Box<dyn FnMut() + Send>;

/// The least time between two releases: one costs a walk over the heap.
const RELEASE_INTERVAL: Duration = Duration::from_secs(1);

pub struct MemoryLimiter {
    interval: Duration,
    soft: u64,
    sampler: MemorySampler,
    release: MemoryRelease,
    last_check: Option<Instant>,
    last_release: Option<Instant>,
    refusing: bool,
}

impl MemoryLimiter {
    pub fn new(cfg: &MemoryLimiterConfig, sampler: MemorySampler) -> Self {
        let (_hard, soft) = cfg.limits(total_memory());
        Self {
            interval: cfg.check_interval,
            soft,
            sampler,
            release: Box::new(release_free_memory),
            last_check: None,
            last_release: None,
            refusing: false,
        }
    }

    pub fn with_release(mut self, release: MemoryRelease) -> Self {
        self.release = release;
        self
    }

    /// Whether data is being refused now; samples at most once per interval.
    pub fn refusing(&mut self, now: Instant) -> bool {
        if self.last_check.is_none_or(|t| now.duration_since(t) >= self.interval) {
            self.last_check = Some(now);
            let mut used = (self.sampler)();
            // Freed memory the allocator kept after a burst still counts as
            // resident; without a release, refusals could outlast the load.
            if used > self.soft && self.last_release.is_none_or(|t| now.duration_since(t) >= RELEASE_INTERVAL) {
                self.last_release = Some(now);
                (self.release)();
                used = (self.sampler)();
            }
            self.refusing = used > self.soft;
        }
        self.refusing
    }

    pub fn soft_limit(&self) -> u64 {
        self.soft
    }
}

impl Processor for MemoryLimiter {
    fn process(&mut self, batch: Batch, out: &mut Vec<Batch>) {
        if self.refusing(Instant::now()) {
            batch.fail(&PipelineError::resource_exhausted("data refused due to high memory usage"));
        } else {
            out.push(batch);
        }
    }
}

/// Returns the allocator's free pages to the OS: glibc keeps them (per
/// thread arena) after a burst, so the resident size would stay high.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own heap under its locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Resident set size of this process, from `/proc/self/statm`.
pub fn process_rss() -> u64 {
    let page = 4096u64;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .map(|pages| pages * page)
        .unwrap_or(0)
}

/// The memory available to the process: its cgroup limit, else physical memory.
pub fn total_memory() -> u64 {
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok().and_then(|s| s.trim().parse::<u64>().ok());
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    match (cgroup, meminfo) {
        (Some(c), Some(m)) => c.min(m),
        (c, m) => c.or(m).unwrap_or(u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiotel_api::{Ack, Payload, Signal};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    #[test]
    fn refuses_above_soft_limit_and_recovers() {
        let used = Arc::new(AtomicU64::new(10 << 20));
        let u = used.clone();
        let cfg = MemoryLimiterConfig {
            check_interval: Duration::from_millis(1),
            limit_mib: 100,
            spike_limit_mib: 20,
            ..Default::default()
        };
        assert!(cfg.validate().is_ok());
        let mut m = MemoryLimiter::new(&cfg, Box::new(move || u.load(Ordering::Relaxed)));
        assert_eq!(m.soft_limit(), 80 << 20);
        let mut out = Vec::new();
        let (ack, _rx) = Ack::new();
        m.process(Batch::new(Payload::empty(Signal::Logs), vec![ack]), &mut out);
        assert_eq!(out.len(), 1);
        out.pop().unwrap().ok();

        used.store(90 << 20, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(2));
        let (ack, mut rx) = Ack::new();
        m.process(Batch::new(Payload::empty(Signal::Logs), vec![ack]), &mut out);
        assert!(out.is_empty());
        let err = rx.try_recv().unwrap().unwrap_err();
        assert_eq!(err.kind, aiotel_api::ErrorKind::ResourceExhausted);

        used.store(50 << 20, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(2));
        assert!(!m.refusing(Instant::now()));
    }

    #[test]
    fn releases_free_memory_before_refusing_at_most_once_a_second() {
        // In use, and freed but still held by the allocator until a release.
        let (in_use, held) = (Arc::new(AtomicU64::new(50 << 20)), Arc::new(AtomicU64::new(40 << 20)));
        let releases = Arc::new(AtomicU64::new(0));
        let (u, h) = (in_use.clone(), held.clone());
        let sampler = Box::new(move || u.load(Ordering::Relaxed) + h.load(Ordering::Relaxed));
        let (h, r) = (held.clone(), releases.clone());
        let release = Box::new(move || {
            r.fetch_add(1, Ordering::Relaxed);
            h.store(0, Ordering::Relaxed);
        });
        let cfg = MemoryLimiterConfig {
            check_interval: Duration::from_millis(1),
            limit_mib: 100,
            spike_limit_mib: 20,
            ..Default::default()
        };
        let mut m = MemoryLimiter::new(&cfg, sampler).with_release(release);
        let t0 = Instant::now();
        assert!(!m.refusing(t0), "the release brought usage under the soft limit");
        assert_eq!(releases.load(Ordering::Relaxed), 1);
        // Really in use now: refused, and released again only after a second.
        in_use.store(90 << 20, Ordering::Relaxed);
        assert!(m.refusing(t0 + Duration::from_millis(10)));
        assert!(m.refusing(t0 + Duration::from_millis(500)));
        assert_eq!(releases.load(Ordering::Relaxed), 1);
        assert!(m.refusing(t0 + Duration::from_millis(1100)));
        assert_eq!(releases.load(Ordering::Relaxed), 2);
        // Below the soft limit nothing is released.
        in_use.store(10 << 20, Ordering::Relaxed);
        assert!(!m.refusing(t0 + Duration::from_millis(3000)));
        assert_eq!(releases.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn rejects_bad_settings() {
        assert!(MemoryLimiterConfig::default().validate().is_err());
        let c = MemoryLimiterConfig {
            check_interval: Duration::from_secs(1),
            limit_mib: 10,
            spike_limit_mib: 10,
            ..Default::default()
        };
        assert!(c.validate().is_err());
    }
}
