//! Cost correctness across dialects, checked against hand computations on
//! the published rates (USD per 1M tokens, `M` = 1e6).

mod common;

use std::path::Path;

use aiotel_token_cost::{TokenCostConfig, TokenCostProcessor};
use common::V::{D, I, S};
use common::*;

/// The expected cost of one span, by token class.
struct Want {
    pricing_model: &'static str,
    input: f64,
    cache_read: f64,
    cache_write: f64,
    output: f64,
    reasoning: f64,
}

struct Case {
    name: &'static str,
    attrs: &'static [(&'static str, common::V)],
    /// `None`: the model is unknown and the span is marked unpriced.
    want: Option<Want>,
}

const fn want(pricing_model: &'static str, input: f64, cache_read: f64, cache_write: f64, output: f64) -> Option<Want> {
    Some(Want { pricing_model, input, cache_read, cache_write, output, reasoning: 0.0 })
}

const fn with_reasoning(w: Option<Want>, reasoning: f64) -> Option<Want> {
    match w {
        Some(Want { pricing_model, input, cache_read, cache_write, output, .. }) => {
            Some(Want { pricing_model, input, cache_read, cache_write, output, reasoning })
        }
        None => None,
    }
}

const CASES: &[Case] = &[
    Case {
        name: "OTel current: input includes the 400 cached tokens",
        attrs: &[
            ("gen_ai.operation.name", S("chat")),
            ("gen_ai.provider.name", S("openai")),
            ("gen_ai.request.model", S("gpt-4o")),
            ("gen_ai.response.model", S("gpt-4o-2024-08-06")),
            ("gen_ai.usage.input_tokens", I(1000)),
            ("gen_ai.usage.cache_read.input_tokens", I(400)),
            ("gen_ai.usage.output_tokens", I(500)),
        ],
        // gpt-4o: input 2.50, cache read 1.25, output 10.00
        want: want("gpt-4o", (1000.0 - 400.0) * 2.50 / M, 400.0 * 1.25 / M, 0.0, 500.0 * 10.00 / M),
    },
    Case {
        name: "OTel deprecated names, double and string values",
        attrs: &[
            ("gen_ai.system", S("openai")),
            ("gen_ai.request.model", S("gpt-4o-mini")),
            ("gen_ai.usage.prompt_tokens", D(2000.0)),
            ("gen_ai.usage.completion_tokens", S("300")),
        ],
        // gpt-4o-mini: input 0.15, output 0.60
        want: want("gpt-4o-mini", 2000.0 * 0.15 / M, 0.0, 0.0, 300.0 * 0.60 / M),
    },
    Case {
        name: "response model wins over request model",
        attrs: &[
            ("gen_ai.request.model", S("gpt-4o")),
            ("gen_ai.response.model", S("gpt-4o-mini-2024-07-18")),
            ("gen_ai.usage.input_tokens", I(1000)),
            ("gen_ai.usage.output_tokens", I(100)),
        ],
        want: want("gpt-4o-mini", 1000.0 * 0.15 / M, 0.0, 0.0, 100.0 * 0.60 / M),
    },
    Case {
        name: "OpenInference: prompt includes cache reads",
        attrs: &[
            ("openinference.span.kind", S("LLM")),
            ("llm.provider", S("openai")),
            ("llm.model_name", S("gpt-4.1")),
            ("llm.token_count.prompt", I(10_000)),
            ("llm.token_count.prompt_details.cache_read", I(8000)),
            ("llm.token_count.completion", I(1000)),
            ("llm.token_count.total", I(11_000)),
        ],
        // gpt-4.1: input 2.00, cache read 0.50, output 8.00
        want: want("gpt-4.1", 2000.0 * 2.00 / M, 8000.0 * 0.50 / M, 0.0, 1000.0 * 8.00 / M),
    },
    Case {
        name: "OpenInference Anthropic: prompt = input + cache_creation + cache_read",
        attrs: &[
            ("openinference.span.kind", S("LLM")),
            ("llm.provider", S("anthropic")),
            ("llm.system", S("anthropic")),
            ("llm.model_name", S("claude-sonnet-4-5-20250929")),
            ("llm.token_count.prompt", I(5000)),
            ("llm.token_count.prompt_details.cache_read", I(3000)),
            ("llm.token_count.prompt_details.cache_write", I(1000)),
            ("llm.token_count.completion", I(200)),
        ],
        // claude-sonnet-4-5: input 3.00, cache read 0.30, cache write 3.75, output 15.00
        want: want(
            "claude-sonnet-4-5",
            (5000.0 - 3000.0 - 1000.0) * 3.00 / M,
            3000.0 * 0.30 / M,
            1000.0 * 3.75 / M,
            200.0 * 15.00 / M,
        ),
    },
    Case {
        name: "OpenLLMetry legacy (OpenAI): prompt_tokens include the flat cache_read",
        attrs: &[
            ("llm.request.type", S("chat")),
            ("gen_ai.system", S("openai")),
            ("gen_ai.request.model", S("gpt-4o")),
            ("gen_ai.response.model", S("gpt-4o-2024-08-06")),
            ("gen_ai.usage.prompt_tokens", I(1200)),
            ("gen_ai.usage.cache_read_input_tokens", I(200)),
            ("gen_ai.usage.completion_tokens", I(100)),
            ("llm.usage.total_tokens", I(1300)),
        ],
        want: want("gpt-4o", 1000.0 * 2.50 / M, 200.0 * 1.25 / M, 0.0, 100.0 * 10.00 / M),
    },
    // The same Anthropic call (5000 uncached, 2000 cache read, 1000 cache
    // write, 400 out) in three reporting styles must cost the same.
    Case {
        name: "Anthropic raw-API style: input_tokens exclude cache",
        attrs: &[
            ("gen_ai.system", S("anthropic")),
            ("gen_ai.request.model", S("claude-sonnet-4-5")),
            ("gen_ai.usage.input_tokens", I(5000)),
            ("gen_ai.usage.cache_read_input_tokens", I(2000)),
            ("gen_ai.usage.cache_creation_input_tokens", I(1000)),
            ("gen_ai.usage.output_tokens", I(400)),
        ],
        want: want("claude-sonnet-4-5", 5000.0 * 3.00 / M, 2000.0 * 0.30 / M, 1000.0 * 3.75 / M, 400.0 * 15.00 / M),
    },
    Case {
        name: "OpenLLMetry Anthropic: same flat keys, input includes cache, total says so",
        attrs: &[
            ("gen_ai.system", S("Anthropic")),
            ("gen_ai.request.model", S("claude-sonnet-4-5")),
            ("gen_ai.usage.input_tokens", I(8000)),
            ("gen_ai.usage.cache_read_input_tokens", I(2000)),
            ("gen_ai.usage.cache_creation_input_tokens", I(1000)),
            ("gen_ai.usage.output_tokens", I(400)),
            ("llm.usage.total_tokens", I(8400)),
        ],
        want: want("claude-sonnet-4-5", 5000.0 * 3.00 / M, 2000.0 * 0.30 / M, 1000.0 * 3.75 / M, 400.0 * 15.00 / M),
    },
    Case {
        name: "OTel current on Anthropic: input includes cache",
        attrs: &[
            ("gen_ai.provider.name", S("anthropic")),
            ("gen_ai.request.model", S("claude-sonnet-4-5")),
            ("gen_ai.usage.input_tokens", I(8000)),
            ("gen_ai.usage.cache_read.input_tokens", I(2000)),
            ("gen_ai.usage.cache_creation.input_tokens", I(1000)),
            ("gen_ai.usage.output_tokens", I(400)),
        ],
        want: want("claude-sonnet-4-5", 5000.0 * 3.00 / M, 2000.0 * 0.30 / M, 1000.0 * 3.75 / M, 400.0 * 15.00 / M),
    },
    Case {
        name: "Bedrock id; input smaller than cache read, so it excludes it",
        attrs: &[
            ("gen_ai.provider.name", S("aws.bedrock")),
            ("gen_ai.request.model", S("anthropic.claude-sonnet-4-5-20250929-v1:0")),
            ("gen_ai.usage.input_tokens", I(100)),
            ("gen_ai.usage.cache_read.input_tokens", I(5000)),
            ("gen_ai.usage.output_tokens", I(50)),
        ],
        want: want("claude-sonnet-4-5", 100.0 * 3.00 / M, 5000.0 * 0.30 / M, 0.0, 50.0 * 15.00 / M),
    },
    Case {
        name: "Bedrock cross-region id",
        attrs: &[
            ("gen_ai.request.model", S("us.anthropic.claude-haiku-4-5-20251001-v1:0")),
            ("gen_ai.usage.input_tokens", I(2000)),
            ("gen_ai.usage.output_tokens", I(100)),
        ],
        // claude-haiku-4-5: input 1.00, output 5.00
        want: want("claude-haiku-4-5", 2000.0 * 1.00 / M, 0.0, 0.0, 100.0 * 5.00 / M),
    },
    Case {
        name: "reasoning inside output, priced at the output rate when no reasoning rate",
        attrs: &[
            ("gen_ai.provider.name", S("openai")),
            ("gen_ai.response.model", S("o4-mini-2025-04-16")),
            ("gen_ai.usage.input_tokens", I(1000)),
            ("gen_ai.usage.output_tokens", I(3000)),
            ("gen_ai.usage.reasoning.output_tokens", I(2000)),
        ],
        // o4-mini: input 1.10, output 4.40
        want: with_reasoning(
            want("o4-mini", 1000.0 * 1.10 / M, 0.0, 0.0, (3000.0 - 2000.0) * 4.40 / M),
            2000.0 * 4.40 / M,
        ),
    },
    Case {
        name: "OpenInference reasoning",
        attrs: &[
            ("llm.model_name", S("openai/gpt-5")),
            ("llm.token_count.prompt", I(500)),
            ("llm.token_count.completion", I(1500)),
            ("llm.token_count.completion_details.reasoning", I(1000)),
        ],
        // gpt-5: input 1.25, output 10.00
        want: with_reasoning(want("gpt-5", 500.0 * 1.25 / M, 0.0, 0.0, 500.0 * 10.00 / M), 1000.0 * 10.00 / M),
    },
    Case {
        name: "OpenLLMetry legacy reasoning",
        attrs: &[
            ("gen_ai.system", S("openai")),
            ("gen_ai.request.model", S("gpt-5-mini")),
            ("gen_ai.usage.prompt_tokens", I(100)),
            ("gen_ai.usage.completion_tokens", I(900)),
            ("llm.usage.reasoning_tokens", I(600)),
            ("llm.usage.total_tokens", I(1000)),
        ],
        // gpt-5-mini: input 0.25, output 2.00
        want: with_reasoning(want("gpt-5-mini", 100.0 * 0.25 / M, 0.0, 0.0, 300.0 * 2.00 / M), 600.0 * 2.00 / M),
    },
    Case {
        name: "long context: above 200k input every rate switches",
        attrs: &[
            ("gen_ai.provider.name", S("gcp.gemini")),
            ("gen_ai.request.model", S("gemini-2.5-pro")),
            ("gen_ai.usage.input_tokens", I(250_000)),
            ("gen_ai.usage.cache_read.input_tokens", I(50_000)),
            ("gen_ai.usage.output_tokens", I(1000)),
        ],
        // gemini-2.5-pro above 200k: input 2.50, cache read 0.25, output 15.00
        want: want("gemini-2.5-pro", 200_000.0 * 2.50 / M, 50_000.0 * 0.25 / M, 0.0, 1000.0 * 15.00 / M),
    },
    Case {
        name: "long context: at exactly 200k the base rates hold",
        attrs: &[
            ("gen_ai.request.model", S("models/gemini-2.5-pro")),
            ("gen_ai.usage.input_tokens", I(200_000)),
            ("gen_ai.usage.output_tokens", I(1000)),
        ],
        // gemini-2.5-pro: input 1.25, output 10.00
        want: want("gemini-2.5-pro", 200_000.0 * 1.25 / M, 0.0, 0.0, 1000.0 * 10.00 / M),
    },
    Case {
        name: "zero cache write price is kept (deepseek-chat)",
        attrs: &[
            ("gen_ai.provider.name", S("deepseek")),
            ("gen_ai.request.model", S("deepseek-chat")),
            ("gen_ai.usage.input_tokens", I(10_000)),
            ("gen_ai.usage.cache_read.input_tokens", I(4000)),
            ("gen_ai.usage.cache_creation.input_tokens", I(2000)),
            ("gen_ai.usage.output_tokens", I(500)),
        ],
        // deepseek-chat: input 0.28, cache read 0.028, cache write 0, output 0.42
        want: want("deepseek-chat", 4000.0 * 0.28 / M, 4000.0 * 0.028 / M, 2000.0 * 0.0 / M, 500.0 * 0.42 / M),
    },
    Case {
        name: "unknown model with tokens is unpriced",
        attrs: &[
            ("gen_ai.provider.name", S("vllm")),
            ("gen_ai.request.model", S("my-local-finetune")),
            ("gen_ai.usage.input_tokens", I(1000)),
            ("gen_ai.usage.output_tokens", I(10)),
        ],
        want: None,
    },
    Case {
        name: "no model at all is unpriced",
        attrs: &[("gen_ai.usage.input_tokens", I(10)), ("gen_ai.usage.output_tokens", I(10))],
        want: None,
    },
];

fn processor() -> TokenCostProcessor {
    TokenCostProcessor::new(&TokenCostConfig::default(), Path::new(".")).unwrap()
}

#[test]
fn every_dialect_costs_what_the_rates_say() {
    let p = processor();
    let spans: Vec<&[(&str, V)]> = CASES.iter().map(|c| c.attrs).collect();
    let mut payload = traces(&[("service.name", S("svc"))], &spans);
    p.apply(&mut payload);
    for (i, case) in CASES.iter().enumerate() {
        let a = item(&payload, i);
        let name = case.name;
        match &case.want {
            None => {
                assert_eq!(bool_of(a, "gen_ai.cost.unpriced"), Some(true), "{name}");
                assert_eq!(f64_of(a, "gen_ai.cost.total"), None, "{name}");
            }
            Some(w) => {
                assert_eq!(bool_of(a, "gen_ai.cost.unpriced"), None, "{name}");
                assert_eq!(str_of(a, "gen_ai.cost.pricing_model"), Some(w.pricing_model), "{name}");
                assert_eq!(str_of(a, "gen_ai.cost.currency"), Some("USD"), "{name}");
                for (key, want) in [
                    ("gen_ai.cost.input", w.input),
                    ("gen_ai.cost.cache_read", w.cache_read),
                    ("gen_ai.cost.cache_write", w.cache_write),
                    ("gen_ai.cost.output", w.output),
                    ("gen_ai.cost.reasoning", w.reasoning),
                    ("gen_ai.cost.total", w.input + w.cache_read + w.cache_write + w.output + w.reasoning),
                ] {
                    // A zero part is left out; the total is always there.
                    let got = match f64_of(a, key) {
                        Some(got) => got,
                        None if want == 0.0 && key != "gen_ai.cost.total" => 0.0,
                        None => panic!("{name}: no {key}"),
                    };
                    assert!(close(got, want), "{name}: {key} = {got}, want {want}");
                }
            }
        }
    }
}

#[test]
fn log_records_carrying_usage_are_priced() {
    let p = processor();
    let mut payload = logs(
        &[("service.name", S("support-bot")), ("tenant.id", S("acme"))],
        &[
            &[
                ("event.name", S("gen_ai.client.inference.operation.details")),
                ("gen_ai.provider.name", S("anthropic")),
                ("gen_ai.response.model", S("claude-haiku-4-5-20251001")),
                ("gen_ai.usage.input_tokens", I(3000)),
                ("gen_ai.usage.cache_read.input_tokens", I(1000)),
                ("gen_ai.usage.output_tokens", I(250)),
            ],
            &[("event.name", S("app.log")), ("message", S("no usage here"))],
        ],
    );
    p.apply(&mut payload);
    let a = item(&payload, 0);
    // claude-haiku-4-5: input 1.00, cache read 0.10, output 5.00
    let want = 2000.0 * 1.00 / M + 1000.0 * 0.10 / M + 250.0 * 5.00 / M;
    assert!(close(f64_of(a, "gen_ai.cost.total").unwrap(), want));
    assert_eq!(f64_of(a, "gen_ai.cost.cache_write"), None, "no cache writes, no part");
    // Attribution stays on the resource unless copying is asked for.
    assert_eq!(str_of(a, "tenant.id"), None);
    assert_eq!(str_of(a, "service.name"), None);
    assert_eq!(item(&payload, 1).len(), 2, "a record without usage is left alone");
}

#[test]
fn attribution_attributes_are_copied_onto_the_span() {
    let cfg =
        TokenCostConfig { tenant_attribute: "org.id".into(), copy_resource_attributes: true, ..Default::default() };
    let p = TokenCostProcessor::new(&cfg, Path::new(".")).unwrap();
    let mut payload = traces(
        &[("service.name", S("rag-api")), ("deployment.environment", S("prod")), ("org.id", S("o-42"))],
        &[&[
            ("openinference.span.kind", S("LLM")),
            ("llm.provider", S("azure")),
            ("llm.request.model_name", S("gpt-4o")),
            ("llm.model_name", S("gpt-4o-2024-08-06")),
            ("llm.token_count.prompt", I(100)),
            ("llm.token_count.completion", I(10)),
            ("session.id", S("s-1")),
            ("user.id", S("u-1")),
        ]],
    );
    p.apply(&mut payload);
    let a = item(&payload, 0);
    assert_eq!(str_of(a, "gen_ai.provider.name"), Some("azure.ai.openai"));
    assert_eq!(str_of(a, "gen_ai.request.model"), Some("gpt-4o"));
    assert_eq!(str_of(a, "gen_ai.response.model"), Some("gpt-4o-2024-08-06"));
    assert_eq!(str_of(a, "service.name"), Some("rag-api"));
    assert_eq!(str_of(a, "deployment.environment.name"), Some("prod"));
    assert_eq!(str_of(a, "org.id"), Some("o-42"));
    assert_eq!(str_of(a, "tenant.id"), None);
    assert_eq!((str_of(a, "session.id"), str_of(a, "user.id")), (Some("s-1"), Some("u-1")));
    // gpt-4o: input 2.50, output 10.00
    assert!(close(f64_of(a, "gen_ai.cost.total").unwrap(), 100.0 * 2.50 / M + 10.0 * 10.00 / M));
}

#[test]
fn span_values_win_over_the_resource() {
    let p = processor();
    let mut payload = traces(
        &[("service.name", S("res")), ("tenant.id", S("res-tenant")), ("gen_ai.provider.name", S("openai"))],
        &[&[
            ("service.name", S("span")),
            ("tenant.id", S("span-tenant")),
            ("deployment.environment.name", S("staging")),
            ("gen_ai.request.model", S("anthropic.claude-haiku-4-5-20251001-v1:0")),
            ("gen_ai.usage.input_tokens", I(1)),
            ("gen_ai.usage.output_tokens", I(1)),
        ]],
    );
    let before = item(&payload, 0).len();
    p.apply(&mut payload);
    let a = item(&payload, 0);
    assert_eq!(str_of(a, "service.name"), Some("span"));
    assert_eq!(str_of(a, "tenant.id"), Some("span-tenant"));
    // Provider from the resource, since the span has none.
    assert_eq!(str_of(a, "gen_ai.provider.name"), Some("openai"));
    // Total, input, output, currency and pricing model: no cache or reasoning tokens.
    assert_eq!(a.len(), before + 5 + 1, "five cost attributes and the provider");
}

#[test]
fn bedrock_ids_imply_the_provider() {
    let p = processor();
    let mut payload = traces(
        &[],
        &[&[
            ("gen_ai.request.model", S("us.anthropic.claude-sonnet-4-5-20250929-v1:0")),
            ("gen_ai.usage.input_tokens", I(1)),
        ]],
    );
    p.apply(&mut payload);
    assert_eq!(str_of(item(&payload, 0), "gen_ai.provider.name"), Some("aws.bedrock"));
}

#[test]
fn openinference_compat_writes_llm_cost() {
    let cfg = TokenCostConfig { openinference_compat: true, ..Default::default() };
    let p = TokenCostProcessor::new(&cfg, Path::new(".")).unwrap();
    let mut payload = traces(
        &[],
        &[&[
            ("llm.model_name", S("claude-sonnet-4-5")),
            ("llm.token_count.prompt", I(4000)),
            ("llm.token_count.prompt_details.cache_read", I(1000)),
            ("llm.token_count.prompt_details.cache_write", I(1000)),
            ("llm.token_count.completion", I(100)),
        ]],
    );
    p.apply(&mut payload);
    let a = item(&payload, 0);
    let prompt = 2000.0 * 3.00 / M + 1000.0 * 0.30 / M + 1000.0 * 3.75 / M;
    let completion = 100.0 * 15.00 / M;
    assert!(close(f64_of(a, "llm.cost.prompt").unwrap(), prompt));
    assert!(close(f64_of(a, "llm.cost.completion").unwrap(), completion));
    assert!(close(f64_of(a, "llm.cost.total").unwrap(), prompt + completion));
}

#[test]
fn existing_cost_is_recomputed_and_apply_is_idempotent() {
    let p = processor();
    let mut payload = traces(
        &[],
        &[&[
            ("gen_ai.request.model", S("gpt-4o")),
            ("gen_ai.usage.input_tokens", I(1000)),
            ("gen_ai.usage.output_tokens", I(100)),
            ("gen_ai.cost.total", D(99.0)),
            ("gen_ai.cost.unpriced", S("true")),
        ]],
    );
    p.apply(&mut payload);
    let once = payload.clone();
    p.apply(&mut payload);
    assert_eq!(once, payload, "a second pass changes nothing");
    let a = item(&payload, 0);
    assert!(close(f64_of(a, "gen_ai.cost.total").unwrap(), 1000.0 * 2.50 / M + 100.0 * 10.00 / M));
    assert!(value(a, "gen_ai.cost.unpriced").is_none());
}

#[test]
fn upstream_cost_on_an_unknown_model_is_left_alone() {
    let p = processor();
    let mut payload = traces(
        &[],
        &[&[
            ("gen_ai.request.model", S("secret-model")),
            ("gen_ai.usage.input_tokens", I(5)),
            ("gen_ai.cost.total", D(0.5)),
        ]],
    );
    p.apply(&mut payload);
    let a = item(&payload, 0);
    assert_eq!(f64_of(a, "gen_ai.cost.total"), Some(0.5));
    assert!(value(a, "gen_ai.cost.unpriced").is_none());
}

#[test]
fn aggregate_spans_and_spans_without_usage_are_skipped() {
    let p = processor();
    let spans: &[&[(&str, V)]] = &[
        &[
            ("gen_ai.operation.name", S("invoke_agent")),
            ("gen_ai.request.model", S("gpt-4o")),
            ("gen_ai.usage.input_tokens", I(5000)),
        ],
        &[
            ("openinference.span.kind", S("CHAIN")),
            ("llm.model_name", S("gpt-4o")),
            ("llm.token_count.prompt", I(5000)),
        ],
        &[("gen_ai.operation.name", S("chat")), ("gen_ai.request.model", S("gpt-4o"))],
    ];
    let mut payload = traces(&[("service.name", S("svc"))], spans);
    let before = payload.clone();
    p.apply(&mut payload);
    assert_eq!(payload, before);
}

#[test]
fn user_prices_aliases_and_reasoning_rate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prices.yaml"),
        r#"
currency: USD
models:
  gpt-4o: {input: 2.00, output: 8.00, source: "negotiated", as_of: 2026-11-01}
  thinker: {input: 1.00, output: 4.00, reasoning: 3.00, source: "test", as_of: 2026-11-01}
aliases:
  - {match: '^my-gateway/(gpt-4o).*$', model: gpt-4o}
"#,
    )
    .unwrap();
    let cfg = TokenCostConfig {
        prices: Some("prices.yaml".into()),
        reload_interval: Some(Default::default()),
        ..Default::default()
    };
    let p = TokenCostProcessor::new(&cfg, dir.path()).unwrap();
    let mut payload = traces(
        &[],
        &[
            &[("gen_ai.request.model", S("my-gateway/gpt-4o-eu")), ("gen_ai.usage.input_tokens", I(1000))],
            &[
                ("gen_ai.request.model", S("thinker")),
                ("gen_ai.usage.output_tokens", I(1000)),
                ("gen_ai.usage.reasoning.output_tokens", I(400)),
            ],
            // Not overridden: the embedded entry still applies.
            &[("gen_ai.request.model", S("gpt-4o-mini")), ("gen_ai.usage.input_tokens", I(1000))],
        ],
    );
    p.apply(&mut payload);
    assert!(close(f64_of(item(&payload, 0), "gen_ai.cost.total").unwrap(), 1000.0 * 2.00 / M));
    assert_eq!(str_of(item(&payload, 0), "gen_ai.cost.pricing_model"), Some("gpt-4o"));
    let a = item(&payload, 1);
    assert!(close(f64_of(a, "gen_ai.cost.output").unwrap(), 600.0 * 4.00 / M));
    assert!(close(f64_of(a, "gen_ai.cost.reasoning").unwrap(), 400.0 * 3.00 / M));
    assert!(close(f64_of(item(&payload, 2), "gen_ai.cost.total").unwrap(), 1000.0 * 0.15 / M));

    // Without the embedded table, gpt-4o-mini is unknown.
    let cfg = TokenCostConfig { include_default_prices: false, ..cfg };
    let p = TokenCostProcessor::new(&cfg, dir.path()).unwrap();
    let mut payload =
        traces(&[], &[&[("gen_ai.request.model", S("gpt-4o-mini")), ("gen_ai.usage.input_tokens", I(1))]]);
    p.apply(&mut payload);
    assert_eq!(bool_of(item(&payload, 0), "gen_ai.cost.unpriced"), Some(true));
}

#[test]
fn metrics_pass_and_the_processor_forwards_batches() {
    use aiotel_api::{Batch, Payload, Processor};
    let mut p = processor();
    let mut out = Vec::new();
    p.process(Batch::new(Payload::Metrics(Vec::new()), Vec::new()), &mut out);
    let payload = traces(&[], &[&[("gen_ai.request.model", S("gpt-4o")), ("gen_ai.usage.input_tokens", I(1000))]]);
    p.process(Batch::new(payload, Vec::new()), &mut out);
    assert_eq!(out.len(), 2);
    assert!(close(f64_of(item(&out[1].payload, 0), "gen_ai.cost.total").unwrap(), 1000.0 * 2.50 / M));
}

#[test]
fn the_processor_can_be_shared_with_a_reload_handler() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<TokenCostProcessor>();
    send_sync::<aiotel_token_cost::PriceReloader>();
}
