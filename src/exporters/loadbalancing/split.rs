//! Splits a batch by routing key into one payload per ring owner, keeping
//! each item's resource and scope.

use std::collections::BTreeMap;

use aiotel_api::otlp::common::v1::{any_value, KeyValue};
use aiotel_api::otlp::logs::v1::{ResourceLogs, ScopeLogs};
use aiotel_api::otlp::trace::v1::{ResourceSpans, ScopeSpans};
use aiotel_api::Payload;

use super::config::RoutingKey;
use super::ring::Ring;

pub struct Router<'a> {
    pub ring: &'a Ring,
    pub key: RoutingKey,
    pub attributes: &'a [String],
}

impl Router<'_> {
    /// One payload per owning endpoint; `Err` returns the payload when there is no backend.
    pub fn split(&self, payload: Payload) -> Result<BTreeMap<String, Payload>, Payload> {
        if self.ring.endpoints().is_empty() {
            return Err(payload);
        }
        Ok(match payload {
            Payload::Traces(rss) => self.split_traces(rss).into_iter().map(|(k, v)| (k, Payload::Traces(v))).collect(),
            Payload::Logs(rls) => self.split_logs(rls).into_iter().map(|(k, v)| (k, Payload::Logs(v))).collect(),
            // Metrics carry no trace id: route whole resources by service.
            Payload::Metrics(rms) => {
                let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
                for rm in rms {
                    let svc = service(rm.resource.as_ref().map(|r| &r.attributes[..]).unwrap_or(&[]));
                    out.entry(self.owner(svc.as_bytes())).or_default().push(rm);
                }
                out.into_iter().map(|(k, v)| (k, Payload::Metrics(v))).collect()
            }
        })
    }

    fn owner(&self, key: &[u8]) -> String {
        self.ring.owner(key).unwrap_or_default().to_string()
    }

    fn key(&self, trace_id: &[u8], span_attrs: &[KeyValue], res_attrs: &[KeyValue]) -> Vec<u8> {
        match self.key {
            RoutingKey::TraceId => trace_id.to_vec(),
            RoutingKey::Service => service(res_attrs).into_bytes(),
            RoutingKey::Attributes => {
                let mut k = Vec::new();
                for name in self.attributes {
                    let v = find(span_attrs, name).or_else(|| find(res_attrs, name)).unwrap_or_default();
                    k.extend_from_slice(v.as_bytes());
                    k.push(0);
                }
                k
            }
        }
    }

    fn split_traces(&self, rss: Vec<ResourceSpans>) -> BTreeMap<String, Vec<ResourceSpans>> {
        let mut out: BTreeMap<String, Vec<ResourceSpans>> = BTreeMap::new();
        for mut rs in rss {
            let res_attrs = rs.resource.as_ref().map(|r| r.attributes.clone()).unwrap_or_default();
            let scopes = std::mem::take(&mut rs.scope_spans);
            let mut per: BTreeMap<String, ResourceSpans> = BTreeMap::new();
            for mut ss in scopes {
                let spans = std::mem::take(&mut ss.spans);
                let mut scoped: BTreeMap<String, ScopeSpans> = BTreeMap::new();
                for span in spans {
                    let owner = self.owner(&self.key(&span.trace_id, &span.attributes, &res_attrs));
                    scoped
                        .entry(owner)
                        .or_insert_with(|| ScopeSpans { spans: Vec::new(), ..ss.clone() })
                        .spans
                        .push(span);
                }
                for (owner, s) in scoped {
                    per.entry(owner)
                        .or_insert_with(|| ResourceSpans { scope_spans: Vec::new(), ..rs.clone() })
                        .scope_spans
                        .push(s);
                }
            }
            for (owner, r) in per {
                out.entry(owner).or_default().push(r);
            }
        }
        out
    }

    fn split_logs(&self, rls: Vec<ResourceLogs>) -> BTreeMap<String, Vec<ResourceLogs>> {
        let mut out: BTreeMap<String, Vec<ResourceLogs>> = BTreeMap::new();
        for mut rl in rls {
            let res_attrs = rl.resource.as_ref().map(|r| r.attributes.clone()).unwrap_or_default();
            let scopes = std::mem::take(&mut rl.scope_logs);
            let mut per: BTreeMap<String, ResourceLogs> = BTreeMap::new();
            for mut sl in scopes {
                let records = std::mem::take(&mut sl.log_records);
                let mut scoped: BTreeMap<String, ScopeLogs> = BTreeMap::new();
                for rec in records {
                    let owner = self.owner(&self.key(&rec.trace_id, &rec.attributes, &res_attrs));
                    scoped
                        .entry(owner)
                        .or_insert_with(|| ScopeLogs { log_records: Vec::new(), ..sl.clone() })
                        .log_records
                        .push(rec);
                }
                for (owner, s) in scoped {
                    per.entry(owner)
                        .or_insert_with(|| ResourceLogs { scope_logs: Vec::new(), ..rl.clone() })
                        .scope_logs
                        .push(s);
                }
            }
            for (owner, r) in per {
                out.entry(owner).or_default().push(r);
            }
        }
        out
    }
}

fn service(attrs: &[KeyValue]) -> String {
    find(attrs, "service.name").unwrap_or_default()
}

fn find(attrs: &[KeyValue], name: &str) -> Option<String> {
    let v = attrs.iter().find(|kv| kv.key == name)?.value.as_ref()?.value.as_ref()?;
    Some(match v {
        any_value::Value::StringValue(s) => s.clone(),
        other => format!("{other:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiotel_api::otlp::trace::v1::Span;

    #[test]
    fn every_trace_goes_whole_to_one_owner() {
        let ring = Ring::new(&["a:1".into(), "b:1".into(), "c:1".into()]);
        let r = Router { ring: &ring, key: RoutingKey::TraceId, attributes: &[] };
        let spans: Vec<Span> =
            (0..300u32).map(|i| Span { trace_id: vec![(i % 50) as u8; 16], ..Default::default() }).collect();
        let p = Payload::Traces(vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }]);
        let parts = r.split(p).unwrap();
        assert_eq!(parts.len(), 3);
        let mut seen = std::collections::HashMap::new();
        let mut total = 0;
        for (owner, part) in &parts {
            let Payload::Traces(rss) = part else { panic!() };
            for s in rss.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans) {
                total += 1;
                assert_eq!(seen.entry(s.trace_id.clone()).or_insert(owner.clone()), owner);
                assert_eq!(ring.owner(&s.trace_id), Some(owner.as_str()));
            }
        }
        assert_eq!((total, seen.len()), (300, 50));
        let empty = Ring::new(&[]);
        let none = Router { ring: &empty, key: RoutingKey::TraceId, attributes: &[] };
        assert!(none.split(Payload::Traces(vec![])).is_err());
    }

    #[test]
    fn service_and_attribute_keys_group_by_value() {
        use aiotel_api::otlp::common::v1::AnyValue;
        use aiotel_api::otlp::resource::v1::Resource;
        let kv = |k: &str, v: &str| KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }),
            ..Default::default()
        };
        let ring = Ring::new(&(0..5).map(|i| format!("h{i}:1")).collect::<Vec<_>>());
        let rs = |svc: &str, tenants: &[&str]| ResourceSpans {
            resource: Some(Resource { attributes: vec![kv("service.name", svc)], ..Default::default() }),
            scope_spans: vec![ScopeSpans {
                spans: tenants
                    .iter()
                    .enumerate()
                    .map(|(i, t)| Span {
                        trace_id: vec![i as u8; 16],
                        attributes: vec![kv("tenant", t)],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let p = || Payload::Traces((0..20).map(|i| rs(&format!("svc{i}"), &["a", "b", "a", "b"])).collect());
        // By service: each resource goes whole to the owner of its service name.
        let by_svc = Router { ring: &ring, key: RoutingKey::Service, attributes: &[] }.split(p()).unwrap();
        for (owner, part) in &by_svc {
            let Payload::Traces(rss) = part else { panic!() };
            for r in rss {
                let svc = service(&r.resource.as_ref().unwrap().attributes);
                assert_eq!(ring.owner(svc.as_bytes()), Some(owner.as_str()));
                assert_eq!(r.scope_spans[0].spans.len(), 4);
            }
        }
        // By attribute: at most two owners, one per tenant value.
        let attrs = vec!["tenant".to_string()];
        let by_attr = Router { ring: &ring, key: RoutingKey::Attributes, attributes: &attrs }.split(p()).unwrap();
        assert!(by_attr.len() <= 2);
        let total: usize = by_attr.values().map(|p| p.item_count()).sum();
        assert_eq!(total, 80);
    }
}
