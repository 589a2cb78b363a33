//! What the config means at run time: which slot every dimension is read
//! into, the attribute names of every metric, bucket boundaries and limits.

use crate::config::{SpanMetricsConfig, DEFAULT_EXPONENTIAL_MAX_SIZE, RESERVED_DIMENSIONS};
use crate::dims::{DimRef, FieldTable};
use crate::genai::{GenAiSlots, BUILTIN_ATTRIBUTES, COMMON};

pub(crate) const SCOPE_NAME_KEY: &str = "span.instrumentation.scope.name";
pub(crate) const SCOPE_VERSION_KEY: &str = "span.instrumentation.scope.version";

pub(crate) struct Plan {
    pub table: FieldTable,
    /// Which of service.name, span.name, span.kind, status.code are left out.
    pub excluded: [bool; 4],
    pub dims: Vec<DimRef>,
    pub calls_dims: Vec<DimRef>,
    pub duration_dims: Vec<DimRef>,
    /// Event dimensions, with their names (read from event attributes too).
    pub event_dims: Vec<(DimRef, String)>,
    pub include_scope: Vec<String>,
    pub names: Names,
    pub namespace: String,
    pub unit: &'static str,
    pub unit_nanos: f64,
    pub histogram: Option<Buckets>,
    pub events: bool,
    pub delta: bool,
    pub limit: usize,
    /// Max exemplars per point, when exemplars are on.
    pub exemplars: Option<usize>,
    /// Resource attributes that identify a resource; empty = all.
    pub resource_key: Vec<String>,
    pub max_resources: usize,
    pub metrics_expiration: u64,
    pub series_expiration: u64,
    pub genai: Option<GenAiPlan>,
}

pub(crate) enum Buckets {
    Explicit(Vec<f64>),
    Exponential(usize),
}

/// Attribute names of each metric, in key order.
pub(crate) struct Names {
    pub calls: Vec<String>,
    pub duration: Vec<String>,
    pub events: Vec<String>,
}

pub(crate) struct GenAiPlan {
    pub slots: GenAiSlots,
    pub limit: usize,
    pub token_bounds: Vec<f64>,
    pub duration_bounds: Vec<f64>,
    pub ttft_bounds: Vec<f64>,
    pub tpot_bounds: Vec<f64>,
    pub score_bounds: Vec<f64>,
    pub common: Vec<String>,
    pub token: Vec<String>,
    pub duration: Vec<String>,
    pub eval_results: Vec<String>,
    pub eval_score: Vec<String>,
}

impl Plan {
    pub fn new(cfg: &SpanMetricsConfig) -> Plan {
        let mut table = FieldTable::default();
        let mut dim_refs = |dims: &[crate::config::Dimension]| -> Vec<DimRef> {
            dims.iter().map(|d| DimRef { slot: table.add(&[&d.name]), default: d.default.clone() }).collect()
        };
        let dims = dim_refs(&cfg.dimensions);
        let calls_dims = dim_refs(&cfg.calls_dimensions);
        let duration_dims = dim_refs(&cfg.histogram.dimensions);
        let event_dims: Vec<(DimRef, String)> = if cfg.events.enabled {
            dim_refs(&cfg.events.dimensions)
                .into_iter()
                .zip(cfg.events.dimensions.iter().map(|d| d.name.clone()))
                .collect()
        } else {
            Vec::new()
        };
        let excluded = RESERVED_DIMENSIONS.map(|d| cfg.exclude_dimensions.iter().any(|e| e == d));
        let names_of = |extra: &[&crate::config::Dimension]| {
            let mut v: Vec<String> =
                RESERVED_DIMENSIONS.iter().zip(excluded).filter(|(_, x)| !x).map(|(d, _)| d.to_string()).collect();
            v.extend(cfg.dimensions.iter().map(|d| d.name.clone()));
            v.extend(extra.iter().map(|d| d.name.clone()));
            v.push(SCOPE_NAME_KEY.into());
            v.push(SCOPE_VERSION_KEY.into());
            v
        };
        let names = Names {
            calls: names_of(&cfg.calls_dimensions.iter().collect::<Vec<_>>()),
            duration: names_of(&cfg.histogram.dimensions.iter().collect::<Vec<_>>()),
            events: names_of(&cfg.events.dimensions.iter().collect::<Vec<_>>()),
        };
        let histogram = (!cfg.histogram.disable).then(|| match &cfg.histogram.exponential {
            Some(e) => {
                Buckets::Exponential(if e.max_size > 0 { e.max_size } else { DEFAULT_EXPONENTIAL_MAX_SIZE } as usize)
            }
            None => Buckets::Explicit(cfg.duration_bounds()),
        });
        let genai = cfg.genai.enabled.then(|| {
            let slots = GenAiSlots::register(&mut table, &cfg.genai);
            let mut common: Vec<String> = BUILTIN_ATTRIBUTES[..COMMON].iter().map(|s| s.to_string()).collect();
            common.extend(cfg.genai.dimensions.iter().map(|d| d.name.clone()));
            let with = |extra: &[&str]| {
                let mut v = common.clone();
                v.extend(extra.iter().map(|s| s.to_string()));
                v
            };
            let h = &cfg.genai.histograms;
            GenAiPlan {
                slots,
                limit: cfg.genai_limit(),
                token_bounds: h.token_usage.clone(),
                duration_bounds: h.operation_duration.clone(),
                ttft_bounds: h.time_to_first_token.clone(),
                tpot_bounds: h.time_per_output_token.clone(),
                score_bounds: h.evaluation_score.clone(),
                token: with(&["gen_ai.token.type"]),
                duration: with(&["error.type"]),
                eval_results: with(&["gen_ai.evaluation.name", "gen_ai.evaluation.score.label"]),
                eval_score: with(&["gen_ai.evaluation.name"]),
                common,
            }
        });
        let mut resource_key = cfg.resource_metrics_key_attributes.clone();
        resource_key.sort();
        resource_key.dedup();
        Plan {
            table,
            excluded,
            dims,
            calls_dims,
            duration_dims,
            event_dims,
            include_scope: cfg.include_instrumentation_scope.clone(),
            names,
            namespace: cfg.namespace.clone(),
            unit: cfg.histogram.unit.as_str(),
            unit_nanos: cfg.histogram.unit.nanos(),
            histogram,
            events: cfg.events.enabled,
            delta: cfg.is_delta(),
            limit: cfg.aggregation_cardinality_limit.max(0) as usize,
            exemplars: cfg.exemplars.enabled.then_some(cfg.exemplars.max_per_data_point),
            resource_key,
            max_resources: cfg.resource_metrics_cache_size.max(1) as usize,
            metrics_expiration: cfg.metrics_expiration.as_nanos() as u64,
            series_expiration: cfg.series_expiration.as_nanos() as u64,
            genai,
        }
    }

    pub fn metric_name(&self, name: &str) -> String {
        if self.namespace.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.namespace)
        }
    }
}
