//! Log bodies, the Collector's way: key rules apply to the keys of a map
//! body at every depth, leaves go through the value rules, and the summary
//! goes to the record's attributes as `redaction.body.*` with key paths
//! such as `a.b`, `[0]` and `a.[1]`.

use std::borrow::Cow;

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, KeyValue};

use crate::collector_compat::{as_string, Touched};
use crate::walk::{Engine, Fate};

/// Where a log body node sits in its parent.
#[derive(Clone, Copy)]
enum Key<'a> {
    Root,
    Name(&'a str),
    Index(usize),
}

impl Key<'_> {
    /// The Collector's key path: `parent.name`, `parent.[i]`, or without
    /// the parent at the top.
    fn path(self, parent: &str) -> String {
        let own = match self {
            Key::Root => return parent.to_string(),
            Key::Name(k) => Cow::Borrowed(k),
            Key::Index(i) => Cow::Owned(format!("[{i}]")),
        };
        if parent.is_empty() {
            own.into_owned()
        } else {
            format!("{parent}.{own}")
        }
    }
}

impl Engine {
    /// The Collector's `processLogBody`: key rules apply to the keys of a
    /// map body at every depth; leaves go through the value rules. The
    /// summary goes to the record's attributes as `redaction.body.*`.
    pub fn log_body(&self, body: &mut Option<AnyValue>, attrs: &mut Vec<KeyValue>) {
        let Some(b) = body.as_mut() else { return };
        let mut t = Touched::new(self.rules.summary);
        match &mut b.value {
            None => return,
            Some(Value::KvlistValue(_) | Value::ArrayValue(_)) => {
                self.body_node("", Key::Root, &mut b.value, &mut t);
            }
            v => {
                if self.too_large(v) {
                    t.mask(|| "body".into());
                } else if !matches!(v, Some(Value::BytesValue(_))) {
                    // As in the Collector, an allowed body returns before any summary.
                    if v.as_ref().and_then(as_string).is_some_and(|text| self.rules.allow_value(&text)) {
                        return;
                    }
                    match self.scalar(v, self.url.as_ref().is_some_and(|u| u.log_bodies)) {
                        Fate::Same => {}
                        Fate::Changed => t.mask(|| "body".into()),
                        Fate::Drop => {
                            *body = None;
                            t.redact(|| "body".into());
                        }
                    }
                }
            }
        }
        t.write(attrs, true);
    }

    /// One node of a log body at `parent` + `key`, named the Collector's
    /// way (`a.b`, `[0]`, `a.[1]`). Returns whether to keep the node.
    fn body_node(&self, parent: &str, key: Key, v: &mut Option<Value>, t: &mut Touched) -> bool {
        let r = &self.rules;
        let path = || key.path(parent);
        match v {
            Some(Value::KvlistValue(l)) => {
                let here = path();
                l.values.retain_mut(|kv| {
                    let k = kv.key.as_str();
                    if r.is_ignored(k) {
                        t.ignore(|| Key::Name(k).path(&here));
                        return true;
                    }
                    if r.should_redact(k) {
                        t.redact(|| Key::Name(k).path(&here));
                        return false;
                    }
                    let cv = &mut kv.value.get_or_insert_with(AnyValue::default).value;
                    if r.should_mask_key(k) {
                        let text = match cv.as_ref() {
                            Some(Value::StringValue(s)) => s.as_str(),
                            _ => "",
                        };
                        *cv = Some(Value::StringValue(r.mask_whole(text)));
                        t.mask(|| Key::Name(k).path(&here));
                        return true;
                    }
                    self.body_node(&here, Key::Name(k), cv, t)
                });
                true
            }
            Some(Value::ArrayValue(a)) => {
                let here = path();
                let mut i = 0;
                a.values.retain_mut(|e| {
                    i += 1;
                    self.body_node(&here, Key::Index(i - 1), &mut e.value, t)
                });
                true
            }
            _ => {
                if self.too_large(v) {
                    t.mask(path);
                    return true;
                }
                if matches!(v, None | Some(Value::BytesValue(_))) {
                    return true;
                }
                if v.as_ref().and_then(as_string).is_some_and(|text| r.allow_value(&text)) {
                    t.allow(path);
                    return true;
                }
                match self.scalar(v, self.url.as_ref().is_some_and(|u| u.log_bodies)) {
                    Fate::Same => true,
                    Fate::Changed => {
                        t.mask(path);
                        true
                    }
                    Fate::Drop => {
                        t.redact(path);
                        false
                    }
                }
            }
        }
    }
}
