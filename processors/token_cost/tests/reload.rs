//! Prices change without a restart: explicit reload, the file poller, and
//! broken files that must not replace the prices in force.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use aiotel_token_cost::{TokenCostConfig, TokenCostProcessor};
use common::V::{I, S};
use common::*;

/// `acme-1` at the given input and output rates. The comment pads each
/// version to a different length so the poller sees the change even where
/// mtimes are coarse.
fn write_prices(dir: &Path, input: f64, output: f64, pad: usize) {
    let text = format!(
        "# version {}\ncurrency: USD\nmodels:\n  acme-1: {{input: {input}, output: {output}, source: test, as_of: 2026-11-22}}\n",
        "x".repeat(pad)
    );
    std::fs::write(dir.join("prices.yaml"), text).unwrap();
}

/// The cost of 1000 input and 1000 output tokens of `acme-1`.
fn price_one(p: &TokenCostProcessor) -> Option<f64> {
    let mut payload = traces(
        &[],
        &[&[
            ("gen_ai.request.model", S("acme-1")),
            ("gen_ai.usage.input_tokens", I(1000)),
            ("gen_ai.usage.output_tokens", I(1000)),
        ]],
    );
    p.apply(&mut payload);
    f64_of(item(&payload, 0), "gen_ai.cost.total")
}

fn cfg(interval: Duration) -> TokenCostConfig {
    TokenCostConfig {
        prices: Some("prices.yaml".into()),
        include_default_prices: false,
        reload_interval: Some(interval),
        ..Default::default()
    }
}

#[test]
fn explicit_reload_swaps_prices_and_rejects_broken_files() {
    let dir = tempfile::tempdir().unwrap();
    write_prices(dir.path(), 1.0, 2.0, 1);
    let p = TokenCostProcessor::new(&cfg(Duration::ZERO), dir.path()).unwrap();
    assert!(close(price_one(&p).unwrap(), 1000.0 * 1.0 / M + 1000.0 * 2.0 / M));

    write_prices(dir.path(), 3.0, 4.0, 2);
    // Nothing polls: the old prices hold until reload.
    assert!(close(price_one(&p).unwrap(), 1000.0 * 1.0 / M + 1000.0 * 2.0 / M));
    p.reload().unwrap();
    assert!(close(price_one(&p).unwrap(), 1000.0 * 3.0 / M + 1000.0 * 4.0 / M));

    let file = dir.path().join("prices.yaml");
    for (broken, problem) in [
        ("models:\n  acme-1: {input: 5, output: [\n", "line"),
        ("models:\n  acme-1: {input: 5}\n", "missing field `output`"),
        ("models:\n  acme-1: {input: 5, output: -1}\n", "models.acme-1.output"),
        ("models:\n  acme-1: {input: 5, ouput: 1}\n", "unknown field `ouput`"),
        ("", "no models"),
        ("# truncated\n", "no models"),
    ] {
        std::fs::write(&file, broken).unwrap();
        let err = p.reload().unwrap_err();
        assert!(err.contains(&file.display().to_string()), "names the file: {err}");
        assert!(err.contains(problem), "names the problem: {err}");
        assert!(close(price_one(&p).unwrap(), 1000.0 * 3.0 / M + 1000.0 * 4.0 / M), "old prices stay");
    }
    std::fs::remove_file(&file).unwrap();
    let err = p.reload().unwrap_err();
    assert!(err.contains("cannot read"), "{err}");
    assert!(close(price_one(&p).unwrap(), 1000.0 * 3.0 / M + 1000.0 * 4.0 / M));

    // The handle a SIGHUP handler holds reloads the same table.
    let handle = p.reload_handle();
    write_prices(dir.path(), 0.5, 0.5, 3);
    handle.reload().unwrap();
    assert!(close(price_one(&p).unwrap(), 1000.0 * 0.5 / M + 1000.0 * 0.5 / M));
}

/// Polls until `f` holds or `limit` passes.
fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

#[test]
fn the_poller_reloads_changed_files_and_keeps_prices_over_broken_ones() {
    let dir = tempfile::tempdir().unwrap();
    write_prices(dir.path(), 1.0, 2.0, 1);
    let p = TokenCostProcessor::new(&cfg(Duration::from_millis(50)), dir.path()).unwrap();
    let first = 1000.0 * 1.0 / M + 1000.0 * 2.0 / M;
    assert!(close(price_one(&p).unwrap(), first));

    write_prices(dir.path(), 3.0, 4.0, 2);
    let second = 1000.0 * 3.0 / M + 1000.0 * 4.0 / M;
    assert!(eventually(Duration::from_secs(5), || close(price_one(&p).unwrap(), second)), "poller reloaded");

    std::fs::write(dir.path().join("prices.yaml"), "models: {acme-1: {input: oops}}").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(close(price_one(&p).unwrap(), second), "a broken file leaves the prices in force");

    write_prices(dir.path(), 6.0, 7.0, 3);
    let third = 1000.0 * 6.0 / M + 1000.0 * 7.0 / M;
    assert!(eventually(Duration::from_secs(5), || close(price_one(&p).unwrap(), third)), "recovers once fixed");
}

#[test]
fn dropping_the_processor_stops_the_poller_promptly() {
    let dir = tempfile::tempdir().unwrap();
    write_prices(dir.path(), 1.0, 2.0, 1);
    let p = TokenCostProcessor::new(&cfg(Duration::from_secs(3600)), dir.path()).unwrap();
    let start = Instant::now();
    drop(p);
    assert!(start.elapsed() < Duration::from_secs(1), "the watcher thread was joined without waiting an interval");
}

#[test]
fn a_missing_or_broken_file_fails_startup_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let err = TokenCostProcessor::new(&cfg(Duration::ZERO), dir.path()).err().unwrap();
    assert!(err.contains("prices.yaml") && err.contains("cannot read"), "{err}");
    std::fs::write(dir.path().join("prices.yaml"), "aliases: [{match: 'x', model: nowhere}]").unwrap();
    let err = TokenCostProcessor::new(&cfg(Duration::ZERO), dir.path()).err().unwrap();
    assert!(err.contains("nowhere"), "{err}");
}
