use aiotel_api::otlp::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use aiotel_api::otlp::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint,
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use aiotel_api::otlp::resource::v1::Resource;

use super::*;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }),
        ..Default::default()
    }
}

fn num(v: f64, attrs: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        time_unix_nano: 2_000,
        start_time_unix_nano: 1_000,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

fn batch(metrics: Vec<Metric>) -> Vec<ResourceMetrics> {
    vec![ResourceMetrics {
        resource: Some(Resource {
            attributes: vec![
                kv("service.name", "api"),
                kv("service.namespace", "shop"),
                kv("service.instance.id", "i-1"),
                kv("deployment.environment", "prod"),
            ],
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope { name: "lib".into(), version: "1.2".into(), ..Default::default() }),
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    }]
}

fn opts() -> Options {
    Options { add_metric_suffixes: true, scope_labels: true, target_info: true, ..Default::default() }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    let mut v: Labels = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    v.sort();
    v
}

fn sum(name: &str, unit: &str, monotonic: bool, temporality: AggregationTemporality, v: f64) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(Data::Sum(Sum {
            data_points: vec![num(v, vec![kv("http.method", "GET")])],
            aggregation_temporality: temporality as i32,
            is_monotonic: monotonic,
        })),
        ..Default::default()
    }
}

#[test]
fn counter_gets_total_job_instance_and_scope_labels() {
    let (fams, dropped) = translate(
        &batch(vec![sum("http.requests", "{request}", true, AggregationTemporality::Cumulative, 7.0)]),
        &opts(),
        0,
    );
    assert_eq!(dropped.points, 0);
    let f = &fams[0];
    assert_eq!(f.meta.name, "http_requests_total");
    assert_eq!(f.meta.ty, FamilyType::Counter);
    assert_eq!(
        f.points[0].labels,
        labels(&[
            ("http_method", "GET"),
            ("instance", "i-1"),
            ("job", "shop/api"),
            ("otel_scope_name", "lib"),
            ("otel_scope_version", "1.2")
        ])
    );
    assert_eq!(f.points[0].value, Value::Number(7.0));
    assert!(!f.points[0].delta);
    // target_info carries the other resource attributes.
    let ti = &fams[1];
    assert_eq!(ti.meta.name, "target_info");
    assert_eq!(
        ti.points[0].labels,
        labels(&[("deployment_environment", "prod"), ("instance", "i-1"), ("job", "shop/api")])
    );
}

#[test]
fn resource_to_telemetry_and_extra_labels() {
    let o = Options {
        resource_to_telemetry: true,
        scope_labels: false,
        extra_labels: vec![("region".into(), "eu".into()), ("job".into(), "ignored".into())],
        namespace: "acme".into(),
        ..opts()
    };
    let (fams, _) = translate(&batch(vec![sum("up.down", "", false, AggregationTemporality::Cumulative, -2.0)]), &o, 0);
    assert_eq!(fams[0].meta.name, "acme_up_down");
    assert_eq!(fams[0].meta.ty, FamilyType::Gauge);
    assert_eq!(
        fams[0].points[0].labels,
        labels(&[
            ("deployment_environment", "prod"),
            ("http_method", "GET"),
            ("instance", "i-1"),
            ("job", "shop/api"),
            ("region", "eu"),
            ("service_instance_id", "i-1"),
            ("service_name", "api"),
            ("service_namespace", "shop"),
        ])
    );
    assert_eq!(fams[1].meta.name, "acme_target_info");
}

#[test]
fn colliding_label_names_join_values() {
    let m = Metric {
        name: "g".into(),
        unit: "1".into(),
        data: Some(Data::Gauge(Gauge { data_points: vec![num(0.5, vec![kv("a.b", "x"), kv("a_b", "y")])] })),
        ..Default::default()
    };
    let (fams, _) = translate(&batch(vec![m]), &Options { scope_labels: false, ..opts() }, 0);
    assert_eq!(fams[0].meta.name, "g_ratio");
    assert!(fams[0].points[0].labels.contains(&("a_b".into(), "x;y".into())), "{:?}", fams[0].points[0].labels);
}

#[test]
fn histograms_and_unsupported_points() {
    let h = Metric {
        name: "http.server.request.duration".into(),
        unit: "s".into(),
        data: Some(Data::Histogram(Histogram {
            data_points: vec![
                HistogramDataPoint {
                    count: 5,
                    sum: Some(3.25),
                    explicit_bounds: vec![0.1, 1.0],
                    bucket_counts: vec![1, 3, 1],
                    time_unix_nano: 5,
                    ..Default::default()
                },
                // Malformed: two bounds, two buckets.
                HistogramDataPoint {
                    count: 1,
                    explicit_bounds: vec![0.1, 1.0],
                    bucket_counts: vec![1, 0],
                    ..Default::default()
                },
            ],
            aggregation_temporality: AggregationTemporality::Delta as i32,
        })),
        ..Default::default()
    };
    let e = Metric {
        name: "exp".into(),
        data: Some(Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![ExponentialHistogramDataPoint::default(); 2],
            aggregation_temporality: 2,
        })),
        ..Default::default()
    };
    let ud = sum("queue", "", false, AggregationTemporality::Delta, 1.0);
    let (fams, dropped) = translate(&batch(vec![h, e, ud]), &opts(), 0);
    assert_eq!(dropped.points, 4, "{dropped:?}");
    assert_eq!(fams[0].meta.name, "http_server_request_duration_seconds");
    assert_eq!(fams[0].meta.unit, "seconds");
    assert_eq!(fams[0].points.len(), 1);
    let p = &fams[0].points[0];
    assert!(p.delta);
    assert_eq!(
        p.value,
        Value::Histogram(HistogramValue { count: 5, sum: 3.25, bounds: vec![0.1, 1.0], counts: vec![1, 3, 1] })
    );
}

#[test]
fn no_recorded_value_marks_stale() {
    let mut p = num(1.0, vec![]);
    p.flags = 1;
    let m = Metric { name: "g".into(), data: Some(Data::Gauge(Gauge { data_points: vec![p] })), ..Default::default() };
    let (fams, _) = translate(&batch(vec![m]), &opts(), 0);
    assert!(fams[0].points[0].stale);
}

#[test]
fn attribute_values_as_strings() {
    let i = AnyValue { value: Some(any_value::Value::IntValue(42)) };
    let b = AnyValue { value: Some(any_value::Value::BoolValue(true)) };
    let d = AnyValue { value: Some(any_value::Value::DoubleValue(0.5)) };
    assert_eq!(value_string(Some(&i)), "42");
    assert_eq!(value_string(Some(&b)), "true");
    assert_eq!(value_string(Some(&d)), "0.5");
    assert_eq!(value_string(None), "");
}
