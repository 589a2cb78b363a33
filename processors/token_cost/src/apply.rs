//! Walking a payload: price every span and log record that carries usage,
//! and make its cost attributable from its own attributes.

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, KeyValue};
use aiotel_api::otlp::resource::v1::Resource;
use aiotel_api::Payload;

use crate::model_match::is_bedrock_id;
use std::cell::RefCell;

use crate::prices::{Cost, PriceMatch, PriceTable};
use crate::usage::{normalise_provider, Key, Scan, ABSENT, N_KEYS};

pub(crate) struct Ctx<'a> {
    pub table: &'a PriceTable,
    pub tenant_key: &'a str,
    pub openinference_compat: bool,
    pub copy_resource_attributes: bool,
    /// The last model looked up and its match: a batch mostly holds one
    /// model, and normalising and matching an id costs more than pricing it.
    pub last: RefCell<Option<(String, Option<PriceMatch<'a>>)>>,
}

impl<'a> Ctx<'a> {
    fn lookup(&self, id: &str) -> Option<PriceMatch<'a>> {
        let mut last = self.last.borrow_mut();
        match &*last {
            Some((seen, m)) if seen == id => *m,
            _ => {
                let m = self.table.lookup(id);
                *last = Some((id.to_string(), m));
                m
            }
        }
    }
}

pub(crate) fn payload(ctx: &Ctx, p: &mut Payload) {
    match p {
        Payload::Traces(rs) => {
            for r in rs {
                let res = resource_scan(r.resource.as_ref(), ctx.tenant_key);
                for span in r.scope_spans.iter_mut().flat_map(|s| s.spans.iter_mut()) {
                    item(ctx, &res, &mut span.attributes);
                }
            }
        }
        Payload::Logs(rl) => {
            for r in rl {
                let res = resource_scan(r.resource.as_ref(), ctx.tenant_key);
                for rec in r.scope_logs.iter_mut().flat_map(|s| s.log_records.iter_mut()) {
                    item(ctx, &res, &mut rec.attributes);
                }
            }
        }
        Payload::Metrics(_) => {}
    }
}

fn resource_scan<'a>(r: Option<&'a Resource>, tenant_key: &str) -> Scan<'a> {
    match r {
        Some(r) => Scan::new(&r.attributes, tenant_key),
        None => Scan::empty(),
    }
}

/// What to write onto one item, worked out while its attributes are borrowed.
struct Plan<'t> {
    priced: Option<(Cost, &'t str)>,
    unpriced: bool,
    /// Where the item's keys are: cost keys already there are replaced.
    at: [u32; N_KEYS],
    copies: [Option<KeyValue>; 6],
}

/// Prices one span's or log record's attributes in place.
pub(crate) fn item(ctx: &Ctx, res: &Scan, attrs: &mut Vec<KeyValue>) {
    let plan = {
        let s = Scan::new(attrs, ctx.tenant_key);
        if !s.has_usage() || s.is_aggregate() {
            return;
        }
        plan(ctx, res, &s)
    };
    write(ctx, plan, attrs);
}

fn plan<'t>(ctx: &Ctx<'t>, res: &Scan, s: &Scan) -> Plan<'t> {
    let model = s.model().or_else(|| res.model());
    let provider = s.provider().or_else(|| res.provider()).map(normalise_provider).or_else(|| {
        // `anthropic.claude-…` and `us.meta.llama…` only come from Bedrock.
        model.filter(|m| is_bedrock_id(m)).map(|_| "aws.bedrock".into())
    });
    let usage = s.raw_usage(provider.as_deref(), model).normalise();
    let priced = model.and_then(|m| ctx.lookup(m)).map(|m| (m.price.cost(&usage), m.model));
    // An upstream cost we cannot recompute is left as it came.
    let unpriced = priced.is_none() && !usage.is_zero() && s.get(Key::CostTotal).is_none();

    // Only absent keys are added: a key present even with an odd value is
    // never duplicated.
    let missing = |k: Key| s.get(k).is_none();
    let string = |k: &str, v: &str| kv(k, Value::StringValue(v.to_string()));
    let copy = |k: &str, v: &AnyValue| KeyValue { key: k.to_string(), value: Some(v.clone()), ..Default::default() };
    let mut copies: [Option<KeyValue>; 6] = Default::default();

    if missing(Key::ProviderName) {
        copies[0] = provider.as_deref().map(|p| string("gen_ai.provider.name", p));
    }
    // OpenInference model names under the OTel keys; a model known only from
    // the resource becomes the request model.
    if missing(Key::RequestModel) {
        let m = s.text(Key::OiRequestModel).or_else(|| if s.model().is_none() { res.model() } else { None });
        copies[1] = m.map(|m| string("gen_ai.request.model", m));
    }
    if missing(Key::ResponseModel) {
        let m = s.text(Key::OiModelName).or_else(|| s.text(Key::OiResponseModel));
        copies[2] = m.map(|m| string("gen_ai.response.model", m));
    }
    // Resource attributes the span-metrics connector cannot see.
    let from_res = ctx.copy_resource_attributes;
    if missing(Key::ServiceName) && from_res {
        copies[3] = res.get(Key::ServiceName).map(|v| copy("service.name", v));
    }
    if missing(Key::EnvironmentName) {
        let env = s.get(Key::Environment).or_else(|| {
            if from_res {
                res.get(Key::EnvironmentName).or_else(|| res.get(Key::Environment))
            } else {
                None
            }
        });
        copies[4] = env.map(|v| copy("deployment.environment.name", v));
    }
    let tenant_is_builtin = matches!(ctx.tenant_key, "service.name" | "deployment.environment.name");
    if s.tenant.is_none() && !tenant_is_builtin && from_res {
        copies[5] = res.tenant.map(|v| copy(ctx.tenant_key, v));
    }
    Plan { priced, unpriced, at: s.positions(), copies }
}

fn write(ctx: &Ctx, plan: Plan, attrs: &mut Vec<KeyValue>) {
    // One reallocation at most, and none when every key is there already.
    let keys: &[Key] = match (plan.priced.is_some(), ctx.openinference_compat) {
        (true, true) => &COST_KEYS,
        (true, false) => &COST_KEYS[..8],
        (false, _) => &[Key::CostUnpriced],
    };
    let adds = keys.iter().filter(|&&k| plan.at[k as usize] == ABSENT).count();
    attrs.reserve(adds + plan.copies.iter().flatten().count());
    let at = &plan.at;
    let set = |attrs: &mut Vec<KeyValue>, k: Key, name: &str, v: Value| match at[k as usize] {
        ABSENT => attrs.push(kv(name, v)),
        i => attrs[i as usize].value = Some(AnyValue { value: Some(v) }),
    };
    // A zero part is written only over an existing value, which must not go stale.
    let part = |attrs: &mut Vec<KeyValue>, k: Key, name: &str, x: f64| {
        if x != 0.0 || at[k as usize] != ABSENT {
            set(attrs, k, name, Value::DoubleValue(x))
        }
    };
    // Recomputed and overwritten: the table in force is the one answer.
    if let Some((c, model)) = plan.priced {
        set(attrs, Key::CostTotal, "gen_ai.cost.total", Value::DoubleValue(c.total));
        part(attrs, Key::CostInput, "gen_ai.cost.input", c.input);
        part(attrs, Key::CostCacheRead, "gen_ai.cost.cache_read", c.cache_read);
        part(attrs, Key::CostCacheWrite, "gen_ai.cost.cache_write", c.cache_write);
        part(attrs, Key::CostOutput, "gen_ai.cost.output", c.output);
        part(attrs, Key::CostReasoning, "gen_ai.cost.reasoning", c.reasoning);
        set(attrs, Key::CostCurrency, "gen_ai.cost.currency", Value::StringValue(ctx.table.currency().to_string()));
        set(attrs, Key::CostPricingModel, "gen_ai.cost.pricing_model", Value::StringValue(model.to_string()));
        if ctx.openinference_compat {
            set(attrs, Key::LlmCostTotal, "llm.cost.total", Value::DoubleValue(c.total));
            let prompt = c.input + c.cache_read + c.cache_write;
            set(attrs, Key::LlmCostPrompt, "llm.cost.prompt", Value::DoubleValue(prompt));
            set(attrs, Key::LlmCostCompletion, "llm.cost.completion", Value::DoubleValue(c.output + c.reasoning));
        }
        // Last: removing shifts the positions after it.
        let unpriced_at = plan.at[Key::CostUnpriced as usize];
        if unpriced_at != ABSENT {
            attrs.remove(unpriced_at as usize);
        }
    } else if plan.unpriced {
        set(attrs, Key::CostUnpriced, "gen_ai.cost.unpriced", Value::BoolValue(true));
    }
    attrs.extend(plan.copies.into_iter().flatten());
}

const COST_KEYS: [Key; 11] = [
    Key::CostTotal,
    Key::CostInput,
    Key::CostCacheRead,
    Key::CostCacheWrite,
    Key::CostOutput,
    Key::CostReasoning,
    Key::CostCurrency,
    Key::CostPricingModel,
    Key::LlmCostTotal,
    Key::LlmCostPrompt,
    Key::LlmCostCompletion,
];

fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue { key: k.to_string(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
}
