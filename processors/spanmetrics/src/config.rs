//! Settings, with the Collector's `spanmetrics` key names and defaults, plus
//! aiotel's `genai` block.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// The Collector's default duration buckets, in milliseconds.
pub const DEFAULT_BUCKETS_MS: [f64; 16] =
    [2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0, 5000.0, 10_000.0, 15_000.0];

/// go-expohisto's default bucket count per range.
pub const DEFAULT_EXPONENTIAL_MAX_SIZE: i32 = 160;

/// What the genai metrics are capped at when no limit is configured: the
/// OTel SDK default. Their default dimensions (user, conversation) are
/// unbounded, so they are never left without a limit.
pub const DEFAULT_GENAI_CARDINALITY_LIMIT: usize = 2000;

pub const CUMULATIVE: &str = "AGGREGATION_TEMPORALITY_CUMULATIVE";
pub const DELTA: &str = "AGGREGATION_TEMPORALITY_DELTA";

/// The dimensions every `calls`/`duration` point has unless excluded.
pub const RESERVED_DIMENSIONS: [&str; 4] = ["service.name", "span.name", "span.kind", "status.code"];

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SpanMetricsConfig {
    /// Prefix of `calls`, `duration` and `events`; empty for none.
    pub namespace: String,
    pub histogram: HistogramConfig,
    /// Added to calls, duration and events.
    pub dimensions: Vec<Dimension>,
    /// Added to calls only.
    pub calls_dimensions: Vec<Dimension>,
    pub exclude_dimensions: Vec<String>,
    /// Deprecated in the Collector for `aggregation_cardinality_limit`; accepted and ignored.
    pub dimensions_cache_size: Option<i64>,
    /// How many resources keep state; the least recently seen is dropped past it.
    pub resource_metrics_cache_size: i64,
    pub resource_metrics_key_attributes: Vec<String>,
    pub aggregation_temporality: String,
    #[serde(deserialize_with = "go_duration::one")]
    pub metrics_flush_interval: Duration,
    /// Drop a resource's metrics when it has sent no span for this long; 0 = never.
    #[serde(deserialize_with = "go_duration::one")]
    pub metrics_expiration: Duration,
    /// Drop one series when it has seen no span for this long; 0 = never.
    #[serde(deserialize_with = "go_duration::one")]
    pub series_expiration: Duration,
    /// Accepted for compatibility: delta start times come from the previous flush, with no cache.
    pub metric_timestamp_cache_size: Option<i64>,
    pub exemplars: ExemplarsConfig,
    pub events: EventsConfig,
    /// Scope names whose spans get `span.instrumentation.scope.{name,version}`.
    pub include_instrumentation_scope: Vec<String>,
    /// Series per metric (per resource); past it new series go to one overflow series. 0 = none.
    pub aggregation_cardinality_limit: i64,
    /// Accepted for compatibility: resource attributes are always copied to the
    /// metrics, the Collector's behaviour with its default feature gates.
    pub add_resource_attributes: bool,
    /// Not supported (sampling-adjusted counts); only `false` is valid.
    pub enable_metrics_sampling_method: bool,
    pub genai: GenAiConfig,
}

impl Default for SpanMetricsConfig {
    fn default() -> Self {
        Self {
            namespace: "traces.span.metrics".into(),
            histogram: HistogramConfig::default(),
            dimensions: Vec::new(),
            calls_dimensions: Vec::new(),
            exclude_dimensions: Vec::new(),
            dimensions_cache_size: None,
            resource_metrics_cache_size: 1000,
            resource_metrics_key_attributes: Vec::new(),
            aggregation_temporality: CUMULATIVE.into(),
            metrics_flush_interval: Duration::from_secs(60),
            metrics_expiration: Duration::ZERO,
            series_expiration: Duration::ZERO,
            metric_timestamp_cache_size: None,
            exemplars: ExemplarsConfig::default(),
            events: EventsConfig::default(),
            include_instrumentation_scope: Vec::new(),
            aggregation_cardinality_limit: 0,
            add_resource_attributes: false,
            enable_metrics_sampling_method: false,
            genai: GenAiConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    pub name: String,
    /// Used when the attribute is missing; without it the dimension is omitted.
    #[serde(default, deserialize_with = "scalar_string")]
    pub default: Option<String>,
}

impl Dimension {
    pub fn new(name: &str) -> Self {
        Self { name: name.into(), default: None }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
pub enum DurationUnit {
    #[default]
    #[serde(rename = "ms")]
    Milliseconds,
    #[serde(rename = "s")]
    Seconds,
}

impl DurationUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            DurationUnit::Milliseconds => "ms",
            DurationUnit::Seconds => "s",
        }
    }
    pub fn nanos(self) -> f64 {
        match self {
            DurationUnit::Milliseconds => 1e6,
            DurationUnit::Seconds => 1e9,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct HistogramConfig {
    pub disable: bool,
    pub unit: DurationUnit,
    /// Present (even empty) selects explicit buckets, the default.
    #[serde(deserialize_with = "present")]
    pub explicit: Option<ExplicitConfig>,
    /// Present (even empty) selects an exponential histogram.
    #[serde(deserialize_with = "present")]
    pub exponential: Option<ExponentialConfig>,
    /// Added to duration only.
    pub dimensions: Vec<Dimension>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ExplicitConfig {
    #[serde(deserialize_with = "go_duration::opt_list")]
    pub buckets: Option<Vec<Duration>>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ExponentialConfig {
    /// 0 means the default, 160.
    pub max_size: i32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ExemplarsConfig {
    pub enabled: bool,
    pub max_per_data_point: usize,
}

impl Default for ExemplarsConfig {
    fn default() -> Self {
        Self { enabled: false, max_per_data_point: 5 }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    pub enabled: bool,
    /// Event attributes added (on top of `dimensions`) to the `events` metric.
    pub dimensions: Vec<Dimension>,
}

/// aiotel's GenAI metrics, derived from LLM spans of any dialect.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GenAiConfig {
    pub enabled: bool,
    /// Attribution dimensions added to every GenAI metric; replaces the default list.
    pub dimensions: Vec<GenAiDimension>,
    /// Overrides `aggregation_cardinality_limit` for the GenAI metrics; 0 = none.
    pub aggregation_cardinality_limit: Option<i64>,
    pub histograms: GenAiHistograms,
}

impl Default for GenAiConfig {
    fn default() -> Self {
        let dim = |name: &str, aliases: &[&str]| GenAiDimension {
            name: name.into(),
            default: None,
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
        };
        Self {
            enabled: true,
            dimensions: vec![
                dim("service.name", &[]),
                dim("enduser.id", &["user.id"]),
                dim("tenant.id", &[]),
                dim("gen_ai.conversation.id", &["session.id"]),
                dim("deployment.environment.name", &["deployment.environment"]),
            ],
            aggregation_cardinality_limit: None,
            histograms: GenAiHistograms::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GenAiDimension {
    /// The attribute written on the metrics.
    pub name: String,
    #[serde(default, deserialize_with = "scalar_string")]
    pub default: Option<String>,
    /// Other attribute keys read when `name` is missing, in order.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// Bucket boundaries of the GenAI histograms (times in seconds).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GenAiHistograms {
    pub token_usage: Vec<f64>,
    pub operation_duration: Vec<f64>,
    pub time_to_first_token: Vec<f64>,
    pub time_per_output_token: Vec<f64>,
    pub evaluation_score: Vec<f64>,
}

impl Default for GenAiHistograms {
    fn default() -> Self {
        Self {
            token_usage: vec![
                1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
                16777216.0, 67108864.0,
            ],
            operation_duration: vec![
                0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
            ],
            time_to_first_token: vec![
                0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
            ],
            time_per_output_token: vec![0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5],
            // Scores come as 0..1 fractions or 1..5 / 1..10 ratings.
            evaluation_score: vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0],
        }
    }
}

impl SpanMetricsConfig {
    /// Every problem found, each prefixed by its key path.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        let mut err = |path: &str, msg: String| errs.push(format!("{path}: {msg}"));

        check_dimensions("dimensions", &self.dimensions, &[], &mut err);
        let base: Vec<&str> = self.dimensions.iter().map(|d| d.name.as_str()).collect();
        check_dimensions("calls_dimensions", &self.calls_dimensions, &base, &mut err);
        check_dimensions("histogram::dimensions", &self.histogram.dimensions, &base, &mut err);
        if self.events.enabled {
            if self.events.dimensions.is_empty() {
                err("events::dimensions", "no dimensions configured for events".into());
            }
            check_dimensions("events::dimensions", &self.events.dimensions, &base, &mut err);
        }
        if self.histogram.explicit.is_some() && self.histogram.exponential.is_some() {
            err("histogram", "use either `explicit` or `exponential` buckets histogram".into());
        }
        if let Some(b) = self.histogram.explicit.as_ref().and_then(|e| e.buckets.as_ref()) {
            if !b.windows(2).all(|w| w[0] < w[1]) {
                err("histogram::explicit::buckets", "must be sorted in increasing order, without duplicates".into());
            }
        }
        if let Some(e) = &self.histogram.exponential {
            if e.max_size < 0 || e.max_size == 1 {
                err(
                    "histogram::exponential::max_size",
                    format!("{} is invalid, use 0 (default) or at least 2", e.max_size),
                );
            }
        }
        if self.aggregation_temporality != CUMULATIVE && self.aggregation_temporality != DELTA {
            err("aggregation_temporality", format!("must be {CUMULATIVE} or {DELTA}"));
        }
        if self.metrics_flush_interval.is_zero() {
            err("metrics_flush_interval", "must be greater than 0".into());
        }
        if self.resource_metrics_cache_size <= 0 {
            err("resource_metrics_cache_size", "must be positive".into());
        }
        if self.aggregation_cardinality_limit < 0 {
            err("aggregation_cardinality_limit", "must be 0 (no limit) or positive".into());
        }
        if self.metric_timestamp_cache_size.is_some_and(|s| s <= 0) && self.is_delta() {
            err("metric_timestamp_cache_size", "must be positive".into());
        }
        if self.enable_metrics_sampling_method {
            err("enable_metrics_sampling_method", "sampling-adjusted counts are not supported by aiotel".into());
        }
        let g = &self.genai;
        if g.aggregation_cardinality_limit.is_some_and(|l| l < 0) {
            err("genai::aggregation_cardinality_limit", "must be 0 (no limit) or positive".into());
        }
        let mut seen = Vec::new();
        for (i, d) in g.dimensions.iter().enumerate() {
            if d.name.is_empty() {
                err(&format!("genai::dimensions::{i}::name"), "must not be empty".into());
            } else if seen.contains(&d.name.as_str()) || crate::genai::BUILTIN_ATTRIBUTES.contains(&d.name.as_str()) {
                err(&format!("genai::dimensions::{i}::name"), format!("duplicate dimension name {}", d.name));
            }
            seen.push(&d.name);
        }
        let h = &g.histograms;
        for (name, b) in [
            ("token_usage", &h.token_usage),
            ("operation_duration", &h.operation_duration),
            ("time_to_first_token", &h.time_to_first_token),
            ("time_per_output_token", &h.time_per_output_token),
            ("evaluation_score", &h.evaluation_score),
        ] {
            if !b.windows(2).all(|w| w[0] < w[1]) || b.iter().any(|v| !v.is_finite()) {
                err(&format!("genai::histograms::{name}"), "must be finite and sorted in increasing order".into());
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }

    pub fn is_delta(&self) -> bool {
        self.aggregation_temporality == DELTA
    }

    /// Bucket boundaries of `duration`, in its unit.
    pub fn duration_bounds(&self) -> Vec<f64> {
        let unit = self.histogram.unit;
        match self.histogram.explicit.as_ref().and_then(|e| e.buckets.as_ref()) {
            Some(b) => b.iter().map(|d| d.as_nanos() as f64 / unit.nanos()).collect(),
            None => DEFAULT_BUCKETS_MS.iter().map(|ms| ms * 1e6 / unit.nanos()).collect(),
        }
    }

    pub(crate) fn genai_limit(&self) -> usize {
        match self.genai.aggregation_cardinality_limit {
            Some(l) => l.max(0) as usize,
            None if self.aggregation_cardinality_limit > 0 => self.aggregation_cardinality_limit as usize,
            None => DEFAULT_GENAI_CARDINALITY_LIMIT,
        }
    }
}

/// Names must be unique among themselves, the reserved dimensions and `base`.
fn check_dimensions(path: &str, dims: &[Dimension], base: &[&str], err: &mut impl FnMut(&str, String)) {
    let mut seen: Vec<&str> = RESERVED_DIMENSIONS.to_vec();
    seen.extend_from_slice(base);
    for (i, d) in dims.iter().enumerate() {
        if d.name.is_empty() {
            err(&format!("{path}::{i}::name"), "must not be empty".into());
        } else if seen.contains(&d.name.as_str()) {
            err(path, format!("duplicate dimension name {}", d.name));
        }
        seen.push(&d.name);
    }
}

/// A key that is present, even with an empty value, selects the section.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
}

/// `default: 200` is as valid as `default: "200"`.
fn scalar_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        I(i64),
        F(f64),
        B(bool),
    }
    Ok(Option::<Scalar>::deserialize(d)?.map(|s| match s {
        Scalar::S(s) => s,
        Scalar::I(i) => i.to_string(),
        Scalar::F(f) => f.to_string(),
        Scalar::B(b) => b.to_string(),
    }))
}

/// Durations as the Collector reads them: Go syntax (`100us`, `1m30s`, `1.5s`)
/// or a bare integer of nanoseconds.
pub(crate) mod go_duration {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, SeqAccess, Visitor};
    use serde::{Deserialize, Deserializer};

    pub fn parse(s: &str) -> Result<Duration, String> {
        let s = s.trim();
        let mut rest = s.strip_prefix('+').unwrap_or(s);
        if rest.starts_with('-') {
            return Err(format!("invalid duration {s:?}: must not be negative"));
        }
        if rest == "0" {
            return Ok(Duration::ZERO);
        }
        if rest.is_empty() {
            return Err("invalid duration \"\"".into());
        }
        let mut nanos = 0f64;
        while !rest.is_empty() {
            let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
            let num: f64 = rest[..num_len]
                .parse()
                .map_err(|_| format!("invalid duration {s:?}: expected a number at {rest:?}"))?;
            rest = &rest[num_len..];
            let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
            let scale = match &rest[..unit_len] {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                u => return Err(format!("invalid duration {s:?}: unknown unit {u:?} (use ns, us, ms, s, m or h)")),
            };
            rest = &rest[unit_len..];
            nanos += num * scale;
        }
        Ok(Duration::from_nanos(nanos.round() as u64))
    }

    struct One;
    impl<'de> Visitor<'de> for One {
        type Value = Duration;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a duration such as \"15s\" or \"100ms\"")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
            Ok(Duration::from_nanos(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
            u64::try_from(v).map(Duration::from_nanos).map_err(|_| E::custom("duration must not be negative"))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            parse(v).map_err(E::custom)
        }
    }

    pub fn one<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(One)
    }

    struct Item(Duration);
    impl<'de> Deserialize<'de> for Item {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(One).map(Item)
        }
    }

    struct List;
    impl<'de> Visitor<'de> for List {
        type Value = Vec<Duration>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of durations")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Duration>, A::Error> {
            let mut v = Vec::new();
            while let Some(Item(d)) = seq.next_element()? {
                v.push(d);
            }
            Ok(v)
        }
    }

    pub fn opt_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Duration>>, D::Error> {
        struct Opt;
        impl<'de> Visitor<'de> for Opt {
            type Value = Option<Vec<Duration>>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of durations")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_seq(List).map(Some)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                List.visit_seq(seq).map(Some)
            }
        }
        d.deserialize_option(Opt)
    }
}

#[cfg(test)]
mod tests {
    use super::go_duration::parse;
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse("100us").unwrap(), Duration::from_micros(100));
        assert_eq!(parse("1400ms").unwrap(), Duration::from_millis(1400));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert!(parse("-1s").is_err());
        assert!(parse("10").is_err());
        assert!(parse("5 parsecs").is_err());
    }

    #[test]
    fn validation_messages_carry_key_paths() {
        let mut c = SpanMetricsConfig::default();
        c.dimensions.push(Dimension::new("span.kind"));
        c.histogram.explicit =
            Some(ExplicitConfig { buckets: Some(vec![Duration::from_secs(2), Duration::from_secs(1)]) });
        c.histogram.exponential = Some(ExponentialConfig::default());
        c.events.enabled = true;
        c.aggregation_temporality = "weekly".into();
        c.aggregation_cardinality_limit = -1;
        c.genai.histograms.token_usage = vec![2.0, 1.0];
        let errs = c.validate().unwrap_err();
        for want in [
            "dimensions: duplicate dimension name span.kind",
            "histogram::explicit::buckets: must be sorted",
            "histogram: use either",
            "events::dimensions: no dimensions",
            "aggregation_temporality: must be",
            "aggregation_cardinality_limit: must be",
            "genai::histograms::token_usage: must be",
        ] {
            assert!(errs.iter().any(|e| e.starts_with(want)), "missing {want:?} in {errs:#?}");
        }
        assert!(SpanMetricsConfig::default().validate().is_ok());
    }

    #[test]
    fn default_bounds_follow_the_unit() {
        let mut c = SpanMetricsConfig::default();
        assert_eq!(c.duration_bounds()[0], 2.0);
        c.histogram.unit = DurationUnit::Seconds;
        assert_eq!(c.duration_bounds()[0], 0.002);
        assert_eq!(c.duration_bounds()[15], 15.0);
    }
}
