//! Turning the aggregated state into OTLP metrics.

use aiotel_api::otlp::common::v1::{any_value::Value, InstrumentationScope, KeyValue};
use aiotel_api::otlp::metrics::v1::{
    exemplar, metric::Data, number_data_point, AggregationTemporality, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum,
};
use aiotel_api::otlp::resource::v1::Resource;

use crate::aggregate::{Durations, GenAiState, ResourceState};
use crate::dims::{decode, kv};
use crate::histogram::{Explicit, Exponential};
use crate::plan::{Buckets, GenAiPlan, Plan};
use crate::series::{Series, Store};

/// The Collector's scope name for its span metrics.
pub const SCOPE: &str = "spanmetricsconnector";
/// The scope of the GenAI metrics.
pub const GENAI_SCOPE: &str = "aiotel.spanmetrics.genai";
pub const OVERFLOW_KEY: &str = "otel.metric.overflow";

/// Timestamps of the points of one flush.
#[derive(Clone, Copy)]
pub(crate) struct Times {
    pub now: u64,
    /// Delta points all start at the previous flush; cumulative ones at their series' creation.
    pub delta_start: Option<u64>,
    pub temporality: i32,
}

impl Times {
    fn start<A>(&self, s: &Series<A>) -> u64 {
        self.delta_start.unwrap_or(s.start)
    }
}

pub(crate) fn resource_metrics(plan: &Plan, res: &ResourceState, t: Times) -> Option<ResourceMetrics> {
    let mut scopes = Vec::new();
    let mut red = Vec::new();
    red.extend(sum_int(plan.metric_name("calls"), "", &res.calls, &plan.names.calls, t));
    match (&res.duration, &plan.histogram) {
        (Durations::Explicit(s), Some(Buckets::Explicit(b))) => {
            red.extend(histogram(plan.metric_name("duration"), plan.unit, "", s, b, &plan.names.duration, t))
        }
        (Durations::Exponential(s), _) => {
            red.extend(exponential(plan.metric_name("duration"), plan.unit, s, &plan.names.duration, t))
        }
        _ => {}
    }
    if plan.events {
        red.extend(sum_int(plan.metric_name("events"), "", &res.events, &plan.names.events, t));
    }
    if !red.is_empty() {
        scopes.push(scope(SCOPE, red));
    }
    if let (Some(g), Some(state)) = (&plan.genai, &res.genai) {
        let m = genai_metrics(g, state, t);
        if !m.is_empty() {
            scopes.push(scope(GENAI_SCOPE, m));
        }
    }
    (!scopes.is_empty()).then(|| ResourceMetrics {
        resource: Some(Resource { attributes: res.attrs.clone(), ..Default::default() }),
        scope_metrics: scopes,
        ..Default::default()
    })
}

fn genai_metrics(g: &GenAiPlan, s: &GenAiState, t: Times) -> Vec<Metric> {
    const TOKEN: &str = "Number of input and output tokens used.";
    let mut out = Vec::new();
    let hist = [
        ("gen_ai.client.token.usage", "{token}", TOKEN, &s.token_usage, &g.token_bounds, &g.token),
        (
            "gen_ai.client.operation.duration",
            "s",
            "GenAI operation duration.",
            &s.op_duration,
            &g.duration_bounds,
            &g.duration,
        ),
        (
            "gen_ai.server.time_to_first_token",
            "s",
            "Time to generate first token for successful responses.",
            &s.ttft,
            &g.ttft_bounds,
            &g.common,
        ),
        (
            "gen_ai.server.time_per_output_token",
            "s",
            "Time per output token generated after the first token for successful responses.",
            &s.tpot,
            &g.tpot_bounds,
            &g.common,
        ),
    ];
    for (name, unit, desc, store, bounds, names) in hist {
        out.extend(histogram(name.into(), unit, desc, store, bounds, names, t));
    }
    for (currency, store) in &s.cost {
        let points = points(store, &g.common, t, |v, p| p.value = Some(number_data_point::Value::AsDouble(*v)));
        out.extend(sum_metric(
            "gen_ai.client.cost".into(),
            currency,
            "Cost of GenAI operations, in the unit's currency.",
            points,
            t,
        ));
    }
    let results =
        points(&s.eval_results, &g.eval_results, t, |v, p| p.value = Some(number_data_point::Value::AsInt(*v as i64)));
    out.extend(sum_metric(
        "gen_ai.evaluation.results".into(),
        "{evaluation}",
        "Evaluation results, by evaluation name and score label.",
        results,
        t,
    ));
    out.extend(histogram(
        "gen_ai.evaluation.score".into(),
        "1",
        "Evaluation scores, by evaluation name.",
        &s.eval_score,
        &g.score_bounds,
        &g.eval_score,
        t,
    ));
    out
}

fn scope(name: &str, metrics: Vec<Metric>) -> ScopeMetrics {
    ScopeMetrics {
        scope: Some(InstrumentationScope { name: name.into(), ..Default::default() }),
        metrics,
        ..Default::default()
    }
}

fn attributes<A>(s: &Series<A>, overflow: bool, names: &[String]) -> Vec<KeyValue> {
    if overflow {
        return vec![kv(OVERFLOW_KEY, Value::BoolValue(true))];
    }
    let mut out = Vec::with_capacity(names.len());
    decode(&s.key, names, &mut out);
    out
}

fn exemplars<A>(s: &Series<A>, now: u64) -> Vec<Exemplar> {
    s.exemplars
        .iter()
        .map(|e| Exemplar {
            time_unix_nano: now,
            trace_id: e.trace_id.to_vec(),
            span_id: e.span_id.to_vec(),
            value: Some(exemplar::Value::AsDouble(e.value)),
            ..Default::default()
        })
        .collect()
}

fn points<A>(
    store: &Store<A>,
    names: &[String],
    t: Times,
    set: impl Fn(&A, &mut NumberDataPoint),
) -> Vec<NumberDataPoint> {
    store
        .iter()
        .map(|(s, overflow)| {
            let mut p = NumberDataPoint {
                attributes: attributes(s, overflow, names),
                start_time_unix_nano: t.start(s),
                time_unix_nano: t.now,
                exemplars: exemplars(s, t.now),
                ..Default::default()
            };
            set(&s.agg, &mut p);
            p
        })
        .collect()
}

fn sum_metric(name: String, unit: &str, desc: &str, points: Vec<NumberDataPoint>, t: Times) -> Option<Metric> {
    (!points.is_empty()).then(|| Metric {
        name,
        unit: unit.into(),
        description: desc.into(),
        data: Some(Data::Sum(Sum { data_points: points, aggregation_temporality: t.temporality, is_monotonic: true })),
        ..Default::default()
    })
}

fn sum_int(name: String, unit: &str, store: &Store<u64>, names: &[String], t: Times) -> Option<Metric> {
    let points = points(store, names, t, |v, p| p.value = Some(number_data_point::Value::AsInt(*v as i64)));
    sum_metric(name, unit, "", points, t)
}

fn histogram(
    name: String,
    unit: &str,
    desc: &str,
    store: &Store<Explicit>,
    bounds: &[f64],
    names: &[String],
    t: Times,
) -> Option<Metric> {
    let points: Vec<HistogramDataPoint> = store
        .iter()
        .map(|(s, overflow)| HistogramDataPoint {
            attributes: attributes(s, overflow, names),
            start_time_unix_nano: t.start(s),
            time_unix_nano: t.now,
            count: s.agg.count,
            sum: Some(s.agg.sum),
            bucket_counts: s.agg.counts.to_vec(),
            explicit_bounds: bounds.to_vec(),
            exemplars: exemplars(s, t.now),
            min: (s.agg.count > 0).then_some(s.agg.min),
            max: (s.agg.count > 0).then_some(s.agg.max),
            ..Default::default()
        })
        .collect();
    (!points.is_empty()).then(|| Metric {
        name,
        unit: unit.into(),
        description: desc.into(),
        data: Some(Data::Histogram(Histogram { data_points: points, aggregation_temporality: t.temporality })),
        ..Default::default()
    })
}

fn exponential(name: String, unit: &str, store: &Store<Exponential>, names: &[String], t: Times) -> Option<Metric> {
    let points: Vec<ExponentialHistogramDataPoint> = store
        .iter()
        .map(|(s, overflow)| ExponentialHistogramDataPoint {
            attributes: attributes(s, overflow, names),
            start_time_unix_nano: t.start(s),
            time_unix_nano: t.now,
            count: s.agg.count,
            sum: Some(s.agg.sum),
            scale: s.agg.scale,
            zero_count: s.agg.zero_count,
            positive: Some(s.agg.positive()),
            negative: Some(Default::default()),
            exemplars: exemplars(s, t.now),
            min: (s.agg.count > 0).then_some(s.agg.min),
            max: (s.agg.count > 0).then_some(s.agg.max),
            ..Default::default()
        })
        .collect();
    (!points.is_empty()).then(|| Metric {
        name,
        unit: unit.into(),
        data: Some(Data::ExponentialHistogram(ExponentialHistogram {
            data_points: points,
            aggregation_temporality: t.temporality,
        })),
        ..Default::default()
    })
}

pub(crate) fn temporality(delta: bool) -> i32 {
    if delta {
        AggregationTemporality::Delta as i32
    } else {
        AggregationTemporality::Cumulative as i32
    }
}
