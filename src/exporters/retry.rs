use std::time::Duration;

use rand::Rng;
use serde::Deserialize;

/// The Collector's `retry_on_failure` settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    pub enabled: bool,
    #[serde(with = "humantime_serde")]
    pub initial_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub max_interval: Duration,
    /// Give up after this long; zero retries forever.
    #[serde(with = "humantime_serde")]
    pub max_elapsed_time: Duration,
    pub multiplier: f64,
    pub randomization_factor: f64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            initial_interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(30),
            max_elapsed_time: Duration::from_secs(300),
            multiplier: 1.5,
            randomization_factor: 0.5,
        }
    }
}

impl RetrySettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.enabled && (self.multiplier < 1.0 || !(0.0..=1.0).contains(&self.randomization_factor)) {
            return Err("multiplier must be >= 1 and randomization_factor within [0, 1]".into());
        }
        Ok(())
    }
}

/// Exponential backoff with jitter.
pub struct Backoff<'a> {
    cfg: &'a RetrySettings,
    next: Duration,
}

impl<'a> Backoff<'a> {
    pub fn new(cfg: &'a RetrySettings) -> Self {
        Self { cfg, next: cfg.initial_interval }
    }

    /// The next wait; at least `hint`, the server's own retry delay.
    pub fn next_wait(&mut self, hint: Option<Duration>) -> Duration {
        let base = self.next.as_secs_f64();
        let spread = base * self.cfg.randomization_factor;
        let jittered = if spread > 0.0 { rand::rng().random_range(base - spread..=base + spread) } else { base };
        self.next = Duration::from_secs_f64((base * self.cfg.multiplier).min(self.cfg.max_interval.as_secs_f64()));
        Duration::from_secs_f64(jittered).max(hint.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_and_honours_hints() {
        let cfg = RetrySettings {
            initial_interval: Duration::from_millis(100),
            max_interval: Duration::from_millis(300),
            randomization_factor: 0.0,
            multiplier: 2.0,
            ..Default::default()
        };
        let mut b = Backoff::new(&cfg);
        let waits: Vec<u128> = (0..4).map(|_| b.next_wait(None).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 300, 300]);
        assert_eq!(b.next_wait(Some(Duration::from_secs(2))), Duration::from_secs(2));
    }
}
