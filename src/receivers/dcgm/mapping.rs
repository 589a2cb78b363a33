//! DCGM exporter series → the OTel hardware conventions (`hw.gpu.*`,
//! `hw.power`, `hw.energy`, `hw.temperature`), one resource per GPU, and a
//! log record for every new XID.

use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::receivers::prometheus::otlp::{kv, scope, str_kv};
use crate::receivers::prometheus::parser::{Family, Labels, MetricType, Sample};

pub const SCOPE_NAME: &str = "aiotel/receiver/dcgm";

/// DCGM's int64 "blank" sentinels (0x7ffffffffffffff0 and the not-found /
/// not-supported codes just above) all round to this as f64.
const BLANK_MIN: f64 = 9.223372036854775e18;

/// Labels that identify the GPU: they go to the resource, never to points.
const IDENTITY: &[&str] = &[
    "UUID",
    "modelName",
    "Hostname",
    "hostname",
    "pod",
    "namespace",
    "container",
    "gpu",
    "device",
    "pci_bus_id",
    "DCGM_FI_DRIVER_VERSION",
];

pub fn is_blank(v: f64) -> bool {
    v >= BLANK_MIN
}

fn resource_attributes(s: &Sample) -> Vec<KeyValue> {
    let mut out = vec![str_kv("hw.type", "gpu")];
    for (label, attr) in [
        ("UUID", "hw.id"),
        ("modelName", "hw.model"),
        ("device", "hw.name"),
        ("Hostname", "host.name"),
        ("hostname", "host.name"),
        ("pod", "k8s.pod.name"),
        ("namespace", "k8s.namespace.name"),
        ("container", "k8s.container.name"),
        ("gpu", "hw.gpu.index"),
        ("pci_bus_id", "hw.gpu.pci_bus_id"),
        ("DCGM_FI_DRIVER_VERSION", "hw.gpu.driver_version"),
    ] {
        if let Some(v) = s.label(label).filter(|v| !v.is_empty()) {
            if !out.iter().any(|k| k.key == attr) {
                out.push(str_kv(attr, v));
            }
        }
    }
    out
}

/// The GPU a sample belongs to: its UUID, else host and index.
fn gpu_key(s: &Sample) -> String {
    match s.label("UUID") {
        Some(u) if !u.is_empty() => u.to_string(),
        _ => format!("{}/{}", s.label("Hostname").or(s.label("hostname")).unwrap_or(""), s.label("gpu").unwrap_or("")),
    }
}

/// Labels that stay on the point (MIG instance, XID code, ...), sorted.
fn point_labels(s: &Sample) -> Labels {
    let mut l: Labels = s.labels.iter().filter(|(k, _)| !IDENTITY.contains(&k.as_str())).cloned().collect();
    l.sort_unstable();
    l
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Gauge,
    Counter,
    UpDown,
}

#[derive(Default)]
struct GpuOut {
    resource: Vec<KeyValue>,
    metrics: Vec<Metric>,
    index: HashMap<String, usize>,
    /// FB used, free and reserved in MiB, per point-label set, for usage and limit.
    memory: Vec<(Labels, [Option<f64>; 3])>,
    logs: Vec<LogRecord>,
}

impl GpuOut {
    fn push(&mut self, name: &str, unit: &str, description: &str, kind: Kind, point: NumberDataPoint) {
        let metrics = &mut self.metrics;
        let i = *self.index.entry(name.to_string()).or_insert_with(|| {
            let data = match kind {
                Kind::Gauge => metric::Data::Gauge(Gauge::default()),
                Kind::Counter | Kind::UpDown => metric::Data::Sum(Sum {
                    data_points: Vec::new(),
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: kind == Kind::Counter,
                }),
            };
            metrics.push(Metric {
                name: name.into(),
                unit: unit.into(),
                description: description.into(),
                data: Some(data),
                ..Default::default()
            });
            metrics.len() - 1
        });
        match metrics[i].data.as_mut() {
            Some(metric::Data::Gauge(g)) => g.data_points.push(point),
            Some(metric::Data::Sum(s)) => s.data_points.push(point),
            _ => {}
        }
    }
}

/// State across scrapes: when each cumulative series started and the last XID per GPU.
#[derive(Default)]
pub struct DcgmState {
    starts: HashMap<(String, String, Labels), (u64, f64)>,
    last_xid: HashMap<(String, Labels), f64>,
}

pub struct Mapped {
    pub metrics: Vec<ResourceMetrics>,
    pub logs: Vec<ResourceLogs>,
    /// Samples dropped because they held a blank sentinel.
    pub blanks: usize,
}

fn point(labels: &Labels, extra: Option<(&str, &str)>, start: u64, time: u64, v: f64) -> NumberDataPoint {
    let mut attributes: Vec<KeyValue> = labels.iter().map(|(k, v)| str_kv(k, v)).collect();
    if let Some((k, v)) = extra {
        attributes.push(str_kv(k, v));
    }
    NumberDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

impl DcgmState {
    fn start(&mut self, gpu: &str, name: &str, labels: &Labels, v: f64, time: u64) -> u64 {
        let e = self.starts.entry((gpu.to_string(), name.to_string(), labels.clone())).or_insert((time, v));
        if v < e.1 {
            e.0 = time; // a counter reset
        }
        e.1 = v;
        e.0
    }

    pub fn map(&mut self, families: &[Family], time: u64, pass_through: bool) -> Mapped {
        let mut gpus: Vec<(String, GpuOut)> = Vec::new();
        let mut blanks = 0;
        let mut seen_starts = std::collections::HashSet::new();
        for fam in families {
            for s in &fam.samples {
                if is_blank(s.value) {
                    blanks += 1;
                    continue;
                }
                let key = gpu_key(s);
                let gi = match gpus.iter().position(|(k, _)| *k == key) {
                    Some(i) => i,
                    None => {
                        gpus.push((key.clone(), GpuOut { resource: resource_attributes(s), ..Default::default() }));
                        gpus.len() - 1
                    }
                };
                let labels = point_labels(s);
                let v = s.value;
                let out = &mut gpus[gi].1;
                match s.name.as_str() {
                    "DCGM_FI_DEV_GPU_UTIL" | "DCGM_FI_DEV_ENC_UTIL" | "DCGM_FI_DEV_DEC_UTIL" => {
                        let task = match s.name.as_str() {
                            "DCGM_FI_DEV_GPU_UTIL" => "general",
                            "DCGM_FI_DEV_ENC_UTIL" => "encoder",
                            _ => "decoder",
                        };
                        out.push(
                            "hw.gpu.utilization",
                            "1",
                            "Fraction of time the GPU was busy",
                            Kind::Gauge,
                            point(&labels, Some(("hw.gpu.task", task)), 0, time, v / 100.0),
                        );
                    }
                    "DCGM_FI_DEV_FB_USED" | "DCGM_FI_DEV_FB_FREE" | "DCGM_FI_DEV_FB_RESERVED" => {
                        let slot = match s.name.as_str() {
                            "DCGM_FI_DEV_FB_USED" => 0,
                            "DCGM_FI_DEV_FB_FREE" => 1,
                            _ => 2,
                        };
                        match out.memory.iter_mut().find(|(l, _)| *l == labels) {
                            Some((_, m)) => m[slot] = Some(v),
                            None => {
                                let mut m = [None; 3];
                                m[slot] = Some(v);
                                out.memory.push((labels, m));
                            }
                        }
                    }
                    "DCGM_FI_DEV_POWER_USAGE" => out.push(
                        "hw.power",
                        "W",
                        "Instantaneous power drawn by the GPU",
                        Kind::Gauge,
                        point(&labels, None, 0, time, v),
                    ),
                    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" => {
                        let start = self.start(&key, &s.name, &labels, v, time);
                        seen_starts.insert((key.clone(), s.name.clone(), labels.clone()));
                        let out = &mut gpus[gi].1;
                        out.push(
                            "hw.energy",
                            "J",
                            "Energy consumed by the GPU",
                            Kind::Counter,
                            point(&labels, None, start, time, v / 1000.0),
                        );
                    }
                    "DCGM_FI_DEV_GPU_TEMP" => out.push(
                        "hw.temperature",
                        "Cel",
                        "Temperature of the GPU",
                        Kind::Gauge,
                        point(&labels, None, 0, time, v),
                    ),
                    name => {
                        if name == "DCGM_FI_DEV_XID_ERRORS" {
                            let xid_key = (
                                key.clone(),
                                labels.iter().filter(|(k, _)| k != "err_code" && k != "err_msg").cloned().collect(),
                            );
                            let prev = self.last_xid.insert(xid_key, v);
                            if v != 0.0 && prev != Some(v) {
                                out.logs.push(xid_record(s, v, time));
                            }
                        }
                        if !pass_through || !name.starts_with("DCGM_FI_") {
                            continue;
                        }
                        if fam.mtype == MetricType::Counter {
                            let start = self.start(&key, name, &labels, v, time);
                            seen_starts.insert((key.clone(), name.to_string(), labels.clone()));
                            gpus[gi].1.push(name, "", &fam.help, Kind::Counter, point(&labels, None, start, time, v));
                        } else {
                            out.push(name, "", &fam.help, Kind::Gauge, point(&labels, None, 0, time, v));
                        }
                    }
                }
            }
        }
        // Forget counters that are gone, so state stays as big as one scrape.
        self.starts.retain(|k, _| seen_starts.contains(k));
        let mut metrics = Vec::new();
        let mut logs = Vec::new();
        for (_, mut g) in gpus {
            for (labels, [used, free, reserved]) in std::mem::take(&mut g.memory) {
                if let Some(u) = used {
                    g.push(
                        "hw.gpu.memory.usage",
                        "By",
                        "GPU memory in use",
                        Kind::UpDown,
                        point(&labels, None, 0, time, u * 1048576.0),
                    );
                }
                if let (Some(u), Some(f)) = (used, free) {
                    let limit = (u + f + reserved.unwrap_or(0.0)) * 1048576.0;
                    g.push(
                        "hw.gpu.memory.limit",
                        "By",
                        "GPU memory size",
                        Kind::UpDown,
                        point(&labels, None, 0, time, limit),
                    );
                }
            }
            let resource = Some(Resource { attributes: g.resource.clone(), ..Default::default() });
            let scope = Some(scope(SCOPE_NAME));
            if !g.metrics.is_empty() {
                metrics.push(ResourceMetrics {
                    resource: resource.clone(),
                    scope_metrics: vec![ScopeMetrics {
                        scope: scope.clone(),
                        metrics: g.metrics,
                        ..Default::default()
                    }],
                    ..Default::default()
                });
            }
            if !g.logs.is_empty() {
                logs.push(ResourceLogs {
                    resource,
                    scope_logs: vec![ScopeLogs { scope, log_records: g.logs, ..Default::default() }],
                    ..Default::default()
                });
            }
        }
        Mapped { metrics, logs, blanks }
    }
}

fn xid_record(s: &Sample, xid: f64, time: u64) -> LogRecord {
    let code = xid as i64;
    let msg = s.label("err_msg").filter(|m| !m.is_empty()).unwrap_or("unknown XID");
    let gpu = s.label("gpu").unwrap_or("?");
    let uuid = s.label("UUID").unwrap_or("");
    let mut attributes = vec![
        str_kv("hw.id", uuid),
        str_kv("hw.gpu.index", gpu),
        kv("hw.gpu.xid", any_value::Value::IntValue(code)),
        str_kv("hw.gpu.xid.message", msg),
    ];
    for (k, v) in point_labels(s) {
        if k != "err_code" && k != "err_msg" {
            attributes.push(str_kv(&k, &v));
        }
    }
    LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: crate::receivers::prometheus::now_ns(),
        severity_number: SeverityNumber::Error as i32,
        severity_text: "ERROR".into(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(format!("GPU {gpu} ({uuid}) reported XID {code}: {msg}"))),
        }),
        attributes,
        event_name: "hw.gpu.xid".into(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::prometheus::parser::{parse, Format};
    use super::*;

    const FIXTURE: &str = include_str!("../../../tests/fixtures/dcgm-exporter.prom");

    fn attr(attrs: &[KeyValue], key: &str) -> Option<any_value::Value> {
        attrs.iter().find(|a| a.key == key).and_then(|a| a.value.clone()?.value)
    }

    fn s(attrs: &[KeyValue], key: &str) -> String {
        match attr(attrs, key) {
            Some(any_value::Value::StringValue(v)) => v,
            other => panic!("{key}: {other:?}"),
        }
    }

    fn values(m: &Mapped, name: &str) -> Vec<(String, f64, Vec<KeyValue>)> {
        let mut out = Vec::new();
        for rm in &m.metrics {
            let id = s(&rm.resource.as_ref().unwrap().attributes, "hw.id");
            for metric in rm.scope_metrics.iter().flat_map(|s| &s.metrics).filter(|x| x.name == name) {
                let pts = match &metric.data {
                    Some(metric::Data::Gauge(g)) => &g.data_points,
                    Some(metric::Data::Sum(g)) => &g.data_points,
                    _ => panic!(),
                };
                for p in pts {
                    let Some(number_data_point::Value::AsDouble(v)) = p.value else { panic!() };
                    out.push((id.clone(), v, p.attributes.clone()));
                }
            }
        }
        out
    }

    const GPU0: &str = "GPU-3f1c9a2e-7b4d-4e21-9c5a-0d8e6f1a2b3c";
    const GPU1: &str = "GPU-8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d";

    #[test]
    fn fixture_maps_to_hardware_conventions() {
        let fams = parse(FIXTURE, Format::Text).unwrap();
        let mut st = DcgmState::default();
        let m = st.map(&fams, 5_000, true);
        assert_eq!(m.metrics.len(), 2);
        let r1 = &m.metrics[1].resource.as_ref().unwrap().attributes;
        assert_eq!(s(r1, "hw.id"), GPU1);
        assert_eq!(s(r1, "hw.type"), "gpu");
        assert_eq!(s(r1, "hw.model"), "NVIDIA H100 80GB HBM3");
        assert_eq!(s(r1, "host.name"), "gpu-node-07");
        assert_eq!(s(r1, "k8s.pod.name"), "finetune-job-5x2kq");
        assert_eq!(s(r1, "k8s.namespace.name"), "training");
        assert_eq!(s(r1, "k8s.container.name"), "trainer");

        let util: Vec<_> = values(&m, "hw.gpu.utilization")
            .into_iter()
            .filter(|(_, _, a)| s(a, "hw.gpu.task") == "general")
            .map(|(id, v, _)| (id, v))
            .collect();
        assert_eq!(util, vec![(GPU0.to_string(), 0.87), (GPU1.to_string(), 0.99)]);
        let enc: Vec<_> =
            values(&m, "hw.gpu.utilization").into_iter().filter(|(_, _, a)| s(a, "hw.gpu.task") == "encoder").collect();
        assert_eq!(enc.len(), 1);
        let pairs = |name| values(&m, name).into_iter().map(|(id, v, _)| (id, v)).collect::<Vec<_>>();
        assert_eq!(
            pairs("hw.gpu.memory.usage"),
            vec![(GPU0.into(), 71234.0 * 1048576.0), (GPU1.into(), 79573.0 * 1048576.0)]
        );
        assert_eq!(
            pairs("hw.gpu.memory.limit"),
            vec![
                (GPU0.into(), (9361.0 + 71234.0 + 564.0) * 1048576.0),
                (GPU1.into(), (1022.0 + 79573.0 + 564.0) * 1048576.0)
            ]
        );
        assert_eq!(pairs("hw.power"), vec![(GPU0.into(), 512.337), (GPU1.into(), 655.104)]);
        assert_eq!(pairs("hw.energy"), vec![(GPU0.into(), 918273645.512), (GPU1.into(), 1204419837.001)]);
        assert_eq!(pairs("hw.temperature"), vec![(GPU0.into(), 63.0), (GPU1.into(), 71.0)]);
        // Unmapped series pass through; the blank sentinel does not.
        assert_eq!(pairs("DCGM_FI_DEV_SM_CLOCK"), vec![(GPU0.into(), 1980.0), (GPU1.into(), 1755.0)]);
        assert!(pairs("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL").is_empty());
        assert_eq!(m.blanks, 1);
        assert!(pairs("DCGM_FI_DEV_GPU_UTIL").is_empty(), "mapped series are not duplicated");
        // Units and types.
        let energy = m.metrics[0].scope_metrics[0].metrics.iter().find(|x| x.name == "hw.energy").unwrap();
        assert_eq!(energy.unit, "J");
        assert!(
            matches!(&energy.data, Some(metric::Data::Sum(s)) if s.is_monotonic && s.data_points[0].start_time_unix_nano == 5_000)
        );
        let usage = m.metrics[0].scope_metrics[0].metrics.iter().find(|x| x.name == "hw.gpu.memory.usage").unwrap();
        assert!(matches!(&usage.data, Some(metric::Data::Sum(s)) if !s.is_monotonic));
    }

    #[test]
    fn xid_logs_once_per_new_value() {
        let fams = parse(FIXTURE, Format::Text).unwrap();
        let mut st = DcgmState::default();
        let m = st.map(&fams, 5_000, true);
        assert_eq!(m.logs.len(), 1);
        let r = &m.logs[0];
        assert_eq!(s(&r.resource.as_ref().unwrap().attributes, "hw.id"), GPU1);
        let rec = &r.scope_logs[0].log_records[0];
        assert_eq!(rec.severity_number, SeverityNumber::Error as i32);
        assert_eq!(rec.severity_text, "ERROR");
        assert_eq!(attr(&rec.attributes, "hw.gpu.xid"), Some(any_value::Value::IntValue(79)));
        assert_eq!(s(&rec.attributes, "hw.gpu.xid.message"), "GPU has fallen off the bus");
        assert_eq!(s(&rec.attributes, "hw.gpu.index"), "1");
        // The same XID on the next scrape is not news; a different one is.
        assert!(st.map(&fams, 6_000, true).logs.is_empty());
        let changed = FIXTURE.replace(
            "err_code=\"79\",err_msg=\"GPU has fallen off the bus\"} 79",
            "err_code=\"48\",err_msg=\"Double Bit ECC Error\"} 48",
        );
        let m = st.map(&parse(&changed, Format::Text).unwrap(), 7_000, true);
        assert_eq!(m.logs.len(), 1);
        assert_eq!(
            attr(&m.logs[0].scope_logs[0].log_records[0].attributes, "hw.gpu.xid"),
            Some(any_value::Value::IntValue(48))
        );
    }

    #[test]
    fn mig_instances_and_newer_label_names() {
        let text = "# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n\
DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-a\",hostname=\"n1\",GPU_I_PROFILE=\"1g.10gb\",GPU_I_ID=\"1\"} 10\n\
DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-a\",hostname=\"n1\",GPU_I_PROFILE=\"1g.10gb\",GPU_I_ID=\"2\"} 30\n\
DCGM_FI_DEV_GPU_UTIL{gpu=\"3\",Hostname=\"n2\"} 9223372036854775807\n";
        let m = DcgmState::default().map(&parse(text, Format::Text).unwrap(), 1, true);
        assert_eq!(m.metrics.len(), 1, "one GPU, two MIG instances; the blank GPU has no points");
        assert_eq!(m.blanks, 1);
        let res = &m.metrics[0].resource.as_ref().unwrap().attributes;
        assert_eq!(s(res, "host.name"), "n1");
        let pts = values(&m, "hw.gpu.utilization");
        assert_eq!(pts.len(), 2);
        assert_eq!((s(&pts[0].2, "GPU_I_ID"), pts[0].1), ("1".to_string(), 0.1));
        assert_eq!((s(&pts[1].2, "GPU_I_ID"), pts[1].1), ("2".to_string(), 0.3));
        assert_eq!(s(&pts[1].2, "GPU_I_PROFILE"), "1g.10gb");
    }

    #[test]
    fn pass_through_can_be_switched_off() {
        let fams = parse(FIXTURE, Format::Text).unwrap();
        let m = DcgmState::default().map(&fams, 1, false);
        let names: std::collections::BTreeSet<_> =
            m.metrics.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics).map(|m| m.name.as_str()).collect();
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            vec![
                "hw.energy",
                "hw.gpu.memory.limit",
                "hw.gpu.memory.usage",
                "hw.gpu.utilization",
                "hw.power",
                "hw.temperature"
            ]
        );
        assert_eq!(m.logs.len(), 1, "XID logs do not depend on pass-through");
    }
}
