//! 100,000 distinct users against `aggregation_cardinality_limit: 1000`:
//! series stay at the limit plus one overflow series per metric, the overflow
//! series counts the rest exactly, and the heap stays flat. One test in its
//! own binary, so the counting allocator sees nothing else.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use common::*;

use aiotel_spanmetrics::{SpanMetricsConfig, SpanMetricsConnector, OVERFLOW_KEY};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const USERS: usize = 100_000;
const LIMIT: usize = 1000;

fn users(from: usize, to: usize) -> Vec<aiotel_api::otlp::trace::v1::ResourceSpans> {
    let spans = (from..to)
        .map(|u| {
            span(
                "chat gpt-4o",
                KIND_CLIENT,
                0,
                u as u64,
                100,
                vec![
                    s("gen_ai.operation.name", "chat"),
                    s("gen_ai.provider.name", "openai"),
                    s("gen_ai.request.model", "gpt-4o"),
                    i("gen_ai.usage.input_tokens", 10),
                    i("gen_ai.usage.output_tokens", 5),
                    d("gen_ai.cost.total", 0.001),
                    s("enduser.id", &format!("user-{u:06}")),
                ],
            )
        })
        .collect();
    vec![resource(vec![s("service.name", "chatbot")], "openai", spans)]
}

#[test]
fn series_stay_bounded_and_overflow_counts_exactly() {
    let cfg: SpanMetricsConfig = serde_yaml_ng::from_str(
        "aggregation_cardinality_limit: 1000\ndimensions:\n  - name: enduser.id\nmetrics_flush_interval: 100ms\n",
    )
    .unwrap();
    // Allocated up front, so that what they hold is not counted as growth.
    let mut heap_at = Vec::with_capacity(3);
    let mut bytes_at = Vec::with_capacity(3);
    let before = LIVE.load(Ordering::Relaxed);
    let mut c = SpanMetricsConnector::new(&cfg).unwrap();
    for chunk in 0..USERS / 1000 {
        feed(&mut c, users(chunk * 1000, (chunk + 1) * 1000));
        if [9, 49, 99].contains(&chunk) {
            heap_at.push(LIVE.load(Ordering::Relaxed) - before);
            bytes_at.push(c.stats().state_bytes);
        }
    }
    // Flat from 10,000 users to 100,000: not a byte more, by the allocator and by stats().
    eprintln!("live heap of the connector after 10k/50k/100k users: {heap_at:?} bytes; stats(): {bytes_at:?}");
    assert_eq!(heap_at[0], heap_at[2], "heap grew");
    assert_eq!(bytes_at[0], bytes_at[2]);
    let st = &c.stats();
    let total_series = st.series();
    eprintln!(
        "{total_series} series, ~{} bytes each by stats(), {} by the allocator",
        st.state_bytes / total_series,
        heap_at[2] as usize / total_series
    );
    for m in &st.metrics {
        eprintln!("  {:<36} {:>5} series, {:>4} bytes each", m.name, m.series, m.bytes / m.series.max(1));
    }
    for name in [
        "traces.span.metrics.calls",
        "traces.span.metrics.duration",
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.duration",
        "gen_ai.client.cost",
    ] {
        let m = st.metric(name).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!((m.series, m.overflow_series), (LIMIT + 1, 1), "{name}");
    }
    assert_eq!(st.spans, USERS as u64);

    let rms = flush(&mut c);
    let overflow = am(&[(OVERFLOW_KEY, "true")]);

    // calls: 1,000 users have their own series; the other 99,000 spans are in the overflow one.
    let calls = sum_points(&rms, "traces.span.metrics.calls");
    assert_eq!(calls.len(), LIMIT + 1);
    let o = calls.iter().find(|p| p.attrs == overflow).unwrap();
    assert_eq!(o.value, 99_000.0);
    assert_eq!(calls.iter().map(|p| p.value).sum::<f64>(), USERS as f64);
    assert!(calls.iter().filter(|p| p.attrs != overflow).all(|p| p.value == 1.0 && p.attrs.contains_key("enduser.id")));

    let duration = hist_points(&rms, "traces.span.metrics.duration");
    let o = duration.iter().find(|p| p.attrs == overflow).unwrap();
    assert_eq!((o.count, o.sum), (99_000, 99_000.0 * 100.0));

    // Token usage has two series per user (input, output): users 0..500 fill the
    // 1,000, so the overflow holds 99,500 x 2 observations summing 99,500 x (10 + 5).
    let tokens = hist_points(&rms, "gen_ai.client.token.usage");
    assert_eq!(tokens.len(), LIMIT + 1);
    let o = tokens.iter().find(|p| p.attrs == overflow).unwrap();
    assert_eq!((o.count, o.sum), (199_000, 1_492_500.0));
    assert_eq!(tokens.iter().map(|p| p.sum).sum::<f64>(), USERS as f64 * 15.0);

    let op = hist_points(&rms, "gen_ai.client.operation.duration");
    let o = op.iter().find(|p| p.attrs == overflow).unwrap();
    assert_eq!(o.count, 99_000);
    assert!(close(o.sum, 9_900.0));

    let cost = sum_points(&rms, "gen_ai.client.cost");
    let o = cost.iter().find(|p| p.attrs == overflow).unwrap();
    assert!(close(o.value, 99.0), "{}", o.value);
    assert_eq!(o.unit, "USD");

    // A known series keeps counting after the limit is reached.
    feed(&mut c, users(0, 1));
    let calls = sum_points(&flush(&mut c), "traces.span.metrics.calls");
    let first = calls.iter().find(|p| p.attrs.get("enduser.id").map(String::as_str) == Some("user-000000")).unwrap();
    assert_eq!(first.value, 2.0);
}
