//! `rate_limiting` (spans per whole second) and `bytes_limiting` (a token
//! bucket, as `golang.org/x/time/rate`). Time comes from the sampler's clock.

use std::time::Instant;

pub(crate) struct RateLimiting {
    per_second: i64,
    second: u64,
    spent: i64,
}

impl RateLimiting {
    pub fn new(per_second: i64) -> Self {
        RateLimiting { per_second, second: u64::MAX, spent: 0 }
    }

    /// Admits a trace while the second's count stays strictly below the limit (as the Collector).
    pub fn admit(&mut self, spans: i64, second: u64) -> bool {
        if second != self.second {
            self.second = second;
            self.spent = 0;
        }
        let after = self.spent + spans;
        if after < self.per_second {
            self.spent = after;
            true
        } else {
            false
        }
    }
}

pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// `burst` 0 = twice the rate, the Collector's default.
    pub fn new(per_second: i64, burst: i64) -> Self {
        let burst = if burst > 0 { burst } else { per_second.saturating_mul(2) } as f64;
        // Starts full, as `rate.NewLimiter`.
        TokenBucket { rate: per_second as f64, burst, tokens: burst, last: None }
    }

    /// `AllowN`: takes `n` tokens if there are that many; never more than the burst.
    pub fn allow(&mut self, n: u64, now: Instant) -> bool {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        }
        self.last = Some(self.last.map_or(now, |l| l.max(now)));
        let n = n as f64;
        if n <= self.tokens {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}
