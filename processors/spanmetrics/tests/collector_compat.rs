//! Configs written for the Collector's `spanmetrics` connector parse
//! unchanged and produce the metric names and attributes it documents.

mod common;

use common::*;

use aiotel_api::otlp::metrics::v1::{metric::Data, AggregationTemporality};
use aiotel_spanmetrics::{SpanMetricsConfig, SpanMetricsConnector, SCOPE};

/// The `connectors.spanmetrics` block of the Collector README's example, as is.
const README_EXAMPLE: &str = r#"
    histogram:
      explicit:
        buckets: [100us, 1ms, 2ms, 6ms, 10ms, 100ms, 250ms]
    dimensions:
      - name: http.method
        default: GET
      - name: http.status_code
    exemplars:
      enabled: true
    exclude_dimensions: ['status.code']
    dimensions_cache_size: 1000
    aggregation_temporality: "AGGREGATION_TEMPORALITY_CUMULATIVE"    
    metrics_flush_interval: 15s
    metrics_expiration: 5m
    events:
      enabled: true
      dimensions:
        - name: exception.type
        - name: exception.message
    resource_metrics_key_attributes:
      - service.name
      - telemetry.sdk.language
      - telemetry.sdk.name
"#;

fn parse(yaml: &str) -> SpanMetricsConfig {
    serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

#[test]
fn readme_example_produces_the_documented_metrics() {
    let cfg = parse(README_EXAMPLE);
    cfg.validate().unwrap();
    assert_eq!(cfg.metrics_flush_interval, std::time::Duration::from_secs(15));
    let mut c = SpanMetricsConnector::new(&cfg).unwrap();

    // Two processes of one service: the pid differs, but it is not a key attribute.
    let res = |pid: i64| {
        vec![
            s("service.name", "shipping"),
            s("telemetry.sdk.language", "go"),
            s("telemetry.sdk.name", "opentelemetry"),
            i("process.pid", pid),
        ]
    };
    let ok = span("get_shipping/{shippingId}", KIND_SERVER, 0, 0, 5, vec![i("http.status_code", 200)]);
    let mut failed = span(
        "get_shipping/{shippingId}",
        KIND_SERVER,
        ERROR,
        10,
        120,
        vec![s("http.method", "POST"), i("http.status_code", 503)],
    );
    failed.events.push(event(
        "exception",
        failed.end_time_unix_nano,
        vec![s("exception.type", "Timeout"), s("exception.message", "upstream timed out")],
    ));
    feed(&mut c, vec![resource(res(1), "shipping", vec![ok.clone(), failed]), resource(res(2), "shipping", vec![ok])]);
    let rms = flush(&mut c);

    assert_eq!(rms.len(), 1, "grouped by resource_metrics_key_attributes");
    let sm = &rms[0].scope_metrics[0];
    assert_eq!(sm.scope.as_ref().unwrap().name, SCOPE);
    let names: Vec<&str> = sm.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["traces.span.metrics.calls", "traces.span.metrics.duration", "traces.span.metrics.events"]);

    let base = |method: &str, code: &str| {
        am(&[
            ("service.name", "shipping"),
            ("span.name", "get_shipping/{shippingId}"),
            ("span.kind", "SPAN_KIND_SERVER"),
            ("http.method", method),
            ("http.status_code", code),
        ])
    };
    let calls = sum_points(&rms, "traces.span.metrics.calls");
    assert_eq!(calls.len(), 2);
    // status.code is excluded; a missing http.method takes its default.
    assert!(calls.iter().any(|p| p.attrs == base("GET", "200") && p.value == 2.0));
    assert!(calls.iter().any(|p| p.attrs == base("POST", "503") && p.value == 1.0));

    let durations = hist_points(&rms, "traces.span.metrics.duration");
    let get = durations.iter().find(|p| p.attrs == base("GET", "200")).unwrap();
    assert_eq!(get.bounds, [0.1, 1.0, 2.0, 6.0, 10.0, 100.0, 250.0]);
    // 5 ms twice: (2, 6].
    assert_eq!((get.count, get.sum, get.buckets.clone()), (2, 10.0, vec![0, 0, 0, 2, 0, 0, 0, 0]));
    assert_eq!(get.exemplars, 2, "exemplars enabled: one per span");

    let events = sum_points(&rms, "traces.span.metrics.events");
    let mut want = base("POST", "503");
    want.extend(am(&[("exception.type", "Timeout"), ("exception.message", "upstream timed out")]));
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].attrs.clone(), events[0].value), (want, 1.0));

    let calls_metric = &sm.metrics[0];
    match calls_metric.data.as_ref().unwrap() {
        Data::Sum(s) => {
            assert!(s.is_monotonic);
            assert_eq!(s.aggregation_temporality, AggregationTemporality::Cumulative as i32);
        }
        _ => panic!("calls must be a sum"),
    }
    assert_eq!(sm.metrics[1].unit, "ms");
}

/// Blocks like those of the Collector's own test configs.
#[test]
fn collector_test_configs_parse() {
    for yaml in [
        "histogram:\n  explicit:\n",
        "histogram:\n  unit: \"s\"\n  explicit:\n    buckets: [ 10ms, 100ms, 250ms ]\nexemplars:\n  enabled: true\nresource_metrics_cache_size: 1600\ndimensions:\n  - name: http.method\n    default: GET\n  - name: http.status_code\naggregation_temporality: \"AGGREGATION_TEMPORALITY_DELTA\"\nmetrics_flush_interval: 30s\n",
        "histogram:\n  exponential:\n    max_size: 10\n",
        "exemplars:\n  enabled: true\n  max_per_data_point: 5\n",
        "aggregation_temporality: \"AGGREGATION_TEMPORALITY_DELTA\"\nmetric_timestamp_cache_size: 123\n",
        "namespace: span.metrics\n",
        "aggregation_cardinality_limit: 2000\ncalls_dimensions:\n  - name: http.url\nhistogram:\n  dimensions:\n    - name: http.status_code\ninclude_instrumentation_scope: [io.opentelemetry.http]\nadd_resource_attributes: true\nseries_expiration: 10m\nexclude_dimensions: [collector.instance.id]\n",
    ] {
        let cfg = parse(yaml);
        cfg.validate().unwrap_or_else(|e| panic!("{e:?}\n{yaml}"));
        SpanMetricsConnector::new(&cfg).unwrap();
    }
    let full = parse("histogram:\n  unit: s\n  explicit:\n    buckets: [ 10ms, 100ms, 250ms ]\n");
    assert_eq!(full.duration_bounds(), [0.01, 0.1, 0.25]);

    // The Collector's invalid ones stay invalid.
    let bad = parse("histogram:\n  exponential:\n    max_size: 10\n  explicit:\n    buckets: [ 10ms, 100ms, 250ms ]\n");
    assert!(bad.validate().unwrap_err()[0].starts_with("histogram: use either"));
    assert!(serde_yaml_ng::from_str::<SpanMetricsConfig>("histogram:\n  unit: \"h\"\n").is_err());
    assert!(serde_yaml_ng::from_str::<SpanMetricsConfig>("metrics_expiration: -20s\n").is_err());
    let bad = parse("aggregation_temporality: \"AGGREGATION_TEMPORALITY_DELTA\"\nmetric_timestamp_cache_size: 0\n");
    assert!(bad.validate().unwrap_err()[0].starts_with("metric_timestamp_cache_size:"));
    assert!(serde_yaml_ng::from_str::<SpanMetricsConfig>("no_such_key: 1\n").is_err());
}

#[test]
fn exponential_histogram_and_seconds() {
    let cfg = parse("histogram:\n  unit: s\n  exponential:\n    max_size: 10\nnamespace: \"\"\n");
    let mut c = SpanMetricsConnector::new(&cfg).unwrap();
    let spans = (1..=50).map(|n| span("op", KIND_SERVER, 0, 0, n * 37, vec![])).collect();
    feed(&mut c, vec![resource(vec![s("service.name", "svc")], "x", spans)]);
    let rms = flush(&mut c);
    let (_, m) = metrics(&rms, "duration").pop().unwrap();
    assert_eq!(m.unit, "s");
    let Some(Data::ExponentialHistogram(h)) = &m.data else { panic!("not exponential") };
    let p = &h.data_points[0];
    let pos = p.positive.as_ref().unwrap();
    assert_eq!(p.count, 50);
    assert!(pos.bucket_counts.len() <= 10);
    assert_eq!(pos.bucket_counts.iter().sum::<u64>(), 50);
    // sum of 37 ms x (1..=50)
    assert!(close(p.sum.unwrap(), 0.037 * 1275.0));
    assert!(!sum_points(&rms, "calls").is_empty(), "empty namespace: bare names");
}

#[test]
fn instrumentation_scope_is_included_when_listed() {
    let cfg = parse("include_instrumentation_scope: [lib-a]\ngenai:\n  enabled: false\n");
    let mut c = SpanMetricsConnector::new(&cfg).unwrap();
    let sp = || vec![span("op", KIND_SERVER, 0, 0, 1, vec![])];
    feed(
        &mut c,
        vec![
            resource(vec![s("service.name", "svc")], "lib-a", sp()),
            resource(vec![s("service.name", "svc")], "lib-b", sp()),
        ],
    );
    let calls = sum_points(&flush(&mut c), "traces.span.metrics.calls");
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().any(|p| p.attrs.get("span.instrumentation.scope.name").map(String::as_str) == Some("lib-a")
        && p.attrs.get("span.instrumentation.scope.version").map(String::as_str) == Some("1.0")));
    assert!(calls.iter().any(|p| !p.attrs.contains_key("span.instrumentation.scope.name")));
}

#[test]
fn spans_without_service_name_make_no_red_metrics() {
    // As in the Collector; GenAI metrics are still derived.
    let mut c = SpanMetricsConnector::new(&SpanMetricsConfig::default()).unwrap();
    let llm = span(
        "chat m",
        KIND_CLIENT,
        0,
        0,
        10,
        vec![s("gen_ai.operation.name", "chat"), i("gen_ai.usage.input_tokens", 3)],
    );
    feed(&mut c, vec![resource(vec![s("host.name", "h")], "x", vec![llm])]);
    let rms = flush(&mut c);
    assert!(sum_points(&rms, "traces.span.metrics.calls").is_empty());
    assert_eq!(hist_points(&rms, "gen_ai.client.token.usage").len(), 1);
}
