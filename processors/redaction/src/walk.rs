//! Walks a payload and applies the rules to every place attributes live:
//! resource, scope, span, span event and span link attributes; log record
//! attributes and bodies (see `log_body.rs`); metric data points and their
//! exemplars.

use std::borrow::Cow;
use std::collections::HashSet;

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, KeyValue};
use aiotel_api::otlp::logs::v1::ResourceLogs;
use aiotel_api::otlp::metrics::v1::{metric::Data, ResourceMetrics};
use aiotel_api::otlp::trace::v1::{span::SpanKind, ResourceSpans, Span};
use aiotel_api::Payload;

use crate::collector_compat::{as_string, KeyRules, Touched};
use crate::config::RedactionConfig;
use crate::scan::{Redacted, Scanner, TOO_LARGE};
use crate::url::{cluster_url, fully_redacted};

pub(crate) struct Engine {
    pub rules: KeyRules,
    pub scanner: Scanner,
    pub(crate) url: Option<UrlRules>,
    max_value_bytes: usize,
}

pub(crate) struct UrlRules {
    attributes: HashSet<String>,
    span_names: bool,
    pub(crate) log_bodies: bool,
}

/// What became of one value.
pub(crate) enum Fate {
    Same,
    Changed,
    Drop,
}

impl Engine {
    pub fn new(cfg: &RedactionConfig, dictionaries: &[Vec<String>]) -> Result<Engine, String> {
        let u = &cfg.url_sanitizer;
        Ok(Engine {
            rules: KeyRules::new(cfg)?,
            scanner: Scanner::new(cfg, dictionaries)?,
            url: u.enabled.then(|| UrlRules {
                attributes: u.attributes.iter().cloned().collect(),
                span_names: u.sanitize_span_name.unwrap_or(true),
                log_bodies: u.sanitize_log_body.unwrap_or(false),
            }),
            max_value_bytes: cfg.max_value_bytes,
        })
    }

    /// One string through every value rule: the Collector's blocked values,
    /// the URL sanitizer when `url` is set, then the detectors.
    #[inline]
    pub fn pipeline<'a>(&self, s: &'a str, url: bool) -> Redacted<'a> {
        if s.len() > self.max_value_bytes {
            return Redacted::Changed(Cow::Borrowed(TOO_LARGE));
        }
        let mut cur = self.rules.mask_blocked(s);
        if url && !cur.is_empty() {
            let u = cluster_url(&cur);
            if u != *cur {
                cur = Cow::Owned(u);
            }
        }
        match cur {
            Cow::Borrowed(b) => self.scanner.redact_value(b),
            Cow::Owned(o) => match self.scanner.redact_value(&o) {
                Redacted::Unchanged => Redacted::Changed(Cow::Owned(o)),
                Redacted::Changed(c) => Redacted::Changed(Cow::Owned(c.into_owned())),
                Redacted::Drop => Redacted::Drop,
            },
        }
    }

    pub fn payload(&self, p: &mut Payload) {
        match p {
            Payload::Traces(v) => v.iter_mut().for_each(|r| self.traces(r)),
            Payload::Logs(v) => v.iter_mut().for_each(|r| self.logs(r)),
            Payload::Metrics(v) => v.iter_mut().for_each(|r| self.metrics(r)),
        }
    }

    fn traces(&self, rs: &mut ResourceSpans) {
        if let Some(r) = rs.resource.as_mut() {
            self.attrs(&mut r.attributes);
        }
        for ss in &mut rs.scope_spans {
            if let Some(s) = ss.scope.as_mut() {
                self.attrs(&mut s.attributes);
            }
            for span in &mut ss.spans {
                self.attrs(&mut span.attributes);
                for e in &mut span.events {
                    self.attrs(&mut e.attributes);
                }
                for l in &mut span.links {
                    self.attrs(&mut l.attributes);
                }
                self.span_name(span);
            }
        }
    }

    fn logs(&self, rl: &mut ResourceLogs) {
        if let Some(r) = rl.resource.as_mut() {
            self.attrs(&mut r.attributes);
        }
        for sl in &mut rl.scope_logs {
            if let Some(s) = sl.scope.as_mut() {
                self.attrs(&mut s.attributes);
            }
            for lr in &mut sl.log_records {
                self.attrs(&mut lr.attributes);
                self.log_body(&mut lr.body, &mut lr.attributes);
            }
        }
    }

    fn metrics(&self, rm: &mut ResourceMetrics) {
        if let Some(r) = rm.resource.as_mut() {
            self.attrs(&mut r.attributes);
        }
        for sm in &mut rm.scope_metrics {
            if let Some(s) = sm.scope.as_mut() {
                self.attrs(&mut s.attributes);
            }
            for m in &mut sm.metrics {
                macro_rules! points {
                    ($dps:expr) => {
                        for dp in $dps {
                            self.attrs(&mut dp.attributes);
                            for ex in &mut dp.exemplars {
                                self.attrs(&mut ex.filtered_attributes);
                            }
                        }
                    };
                }
                match m.data.as_mut() {
                    Some(Data::Gauge(g)) => points!(&mut g.data_points),
                    Some(Data::Sum(s)) => points!(&mut s.data_points),
                    Some(Data::Histogram(h)) => points!(&mut h.data_points),
                    Some(Data::ExponentialHistogram(h)) => points!(&mut h.data_points),
                    // Summary points have no exemplars.
                    Some(Data::Summary(s)) => s.data_points.iter_mut().for_each(|dp| self.attrs(&mut dp.attributes)),
                    None => {}
                }
            }
        }
    }

    /// The Collector's `processAttrs`: ignored keys pass, unlisted keys go,
    /// allowed values stay, blocked keys are masked whole, and every other
    /// value goes through the value rules. Then the summary is written.
    pub fn attrs(&self, attrs: &mut Vec<KeyValue>) {
        if attrs.is_empty() {
            return;
        }
        let mut t = Touched::new(self.rules.summary);
        attrs.retain_mut(|kv| self.attr(kv, &mut t));
        t.write(attrs, false);
    }

    fn attr(&self, kv: &mut KeyValue, t: &mut Touched) -> bool {
        let r = &self.rules;
        if r.values_only && self.url.is_none() {
            return self.attr_value(kv, t);
        }
        let k = kv.key.as_str();
        if r.is_ignored(k) {
            t.ignore(|| kv.key.clone());
            return true;
        }
        if r.should_redact(k) {
            t.redact(|| kv.key.clone());
            return false;
        }
        let v = &mut kv.value.get_or_insert_with(AnyValue::default).value;
        if self.too_large(v) {
            t.mask(|| kv.key.clone());
            return true;
        }
        // The Collector reads non-strings as "" unless redact_all_types.
        let text: Cow<str> = match v.as_ref() {
            Some(Value::StringValue(s)) => Cow::Borrowed(s),
            Some(x) if r.redact_all_types => as_string(x).unwrap_or_default(),
            _ => Cow::Borrowed(""),
        };
        if r.allow_value(&text) {
            t.allow(|| kv.key.clone());
            return true;
        }
        if r.should_mask_key(k) {
            let masked = r.mask_whole(&text);
            *v = Some(Value::StringValue(masked));
            t.mask(|| kv.key.clone());
            return true;
        }
        let url = self.url.as_ref().is_some_and(|u| u.attributes.contains(k));
        let fate = match v {
            Some(Value::StringValue(s)) => self.set_string(s, url),
            Some(Value::KvlistValue(_) | Value::ArrayValue(_)) => self.nested(v),
            Some(_) if r.redact_all_types => self.scalar(v, url),
            _ => Fate::Same,
        };
        keep(fate, kv, t)
    }

    /// [`Engine::attr`] when only the detectors apply (`allow_all_keys` and
    /// no other key or value rule, the default): strings are scanned, every
    /// other value is kept.
    #[inline]
    fn attr_value(&self, kv: &mut KeyValue, t: &mut Touched) -> bool {
        let v = kv.value.get_or_insert_with(AnyValue::default);
        let fate = match &mut v.value {
            Some(Value::StringValue(s)) => self.set_string(s, false),
            Some(Value::BytesValue(b)) if b.len() > self.max_value_bytes => {
                v.value = Some(Value::StringValue(TOO_LARGE.to_string()));
                Fate::Changed
            }
            Some(Value::KvlistValue(_) | Value::ArrayValue(_)) => self.nested(&mut v.value),
            _ => Fate::Same,
        };
        keep(fate, kv, t)
    }

    /// Fail closed: a string or bytes value over the limit is replaced whole.
    pub(crate) fn too_large(&self, v: &mut Option<Value>) -> bool {
        let n = match v {
            Some(Value::StringValue(s)) => s.len(),
            Some(Value::BytesValue(b)) => b.len(),
            _ => 0,
        };
        if n > self.max_value_bytes {
            *v = Some(Value::StringValue(TOO_LARGE.to_string()));
        }
        n > self.max_value_bytes
    }

    #[inline]
    fn set_string(&self, s: &mut String, url: bool) -> Fate {
        match self.pipeline(s, url) {
            Redacted::Unchanged => Fate::Same,
            Redacted::Changed(c) => {
                *s = c.into_owned();
                Fate::Changed
            }
            Redacted::Drop => Fate::Drop,
        }
    }

    /// A scalar (or string) value through the value rules by its string form.
    pub(crate) fn scalar(&self, v: &mut Option<Value>, url: bool) -> Fate {
        let out = {
            let Some(text) = v.as_ref().and_then(as_string) else { return Fate::Same };
            match self.pipeline(&text, url) {
                Redacted::Unchanged => return Fate::Same,
                Redacted::Changed(c) => Some(c.into_owned()),
                Redacted::Drop => None,
            }
        };
        match out {
            Some(s) => {
                *v = Some(Value::StringValue(s));
                Fate::Changed
            }
            None => Fate::Drop,
        }
    }

    /// Values nested inside an attribute's kvlist or array: every leaf goes
    /// through the value rules; a leaf whose match says `drop` is removed.
    fn nested(&self, v: &mut Option<Value>) -> Fate {
        if self.too_large(v) {
            return Fate::Changed;
        }
        let mut changed = false;
        match v {
            Some(Value::StringValue(s)) => return self.set_string(s, false),
            Some(Value::KvlistValue(l)) => {
                l.values.retain_mut(|kv| match self.nested(&mut kv.value.get_or_insert_with(AnyValue::default).value) {
                    Fate::Same => true,
                    Fate::Changed => {
                        changed = true;
                        true
                    }
                    Fate::Drop => {
                        changed = true;
                        false
                    }
                })
            }
            Some(Value::ArrayValue(a)) => a.values.retain_mut(|e| match self.nested(&mut e.value) {
                Fate::Same => true,
                Fate::Changed => {
                    changed = true;
                    true
                }
                Fate::Drop => {
                    changed = true;
                    false
                }
            }),
            Some(_) if self.rules.redact_all_types => return self.scalar(v, false),
            _ => {}
        }
        if changed {
            Fate::Changed
        } else {
            Fate::Same
        }
    }

    /// The Collector sanitizes URL-like names of client and server spans.
    fn span_name(&self, span: &mut Span) {
        let Some(u) = &self.url else { return };
        if !u.span_names || self.rules.allow_value(&span.name) {
            return;
        }
        let kind = span.kind;
        if kind != SpanKind::Client as i32 && kind != SpanKind::Server as i32 {
            return;
        }
        const HTTP_KEYS: [&str; 9] = [
            "http.route",
            "http.request.method",
            "http.request.method_original",
            "http.response.status_code",
            "url.full",
            "http.scheme",
            "http.target",
            "http.method",
            "http.url",
        ];
        if !span.name.contains('/') && !span.attributes.iter().any(|kv| HTTP_KEYS.contains(&kv.key.as_str())) {
            return;
        }
        let s = cluster_url(&span.name);
        if s != span.name && !fully_redacted(&s) && !s.is_empty() && s != "..." {
            span.name = s;
        }
    }
}

/// Records what happened to an attribute in the summary; false drops it.
#[inline]
fn keep(fate: Fate, kv: &KeyValue, t: &mut Touched) -> bool {
    match fate {
        Fate::Same => true,
        Fate::Changed => {
            t.mask(|| kv.key.clone());
            true
        }
        Fate::Drop => {
            t.redact(|| kv.key.clone());
            false
        }
    }
}
