//! Connectors: the exporter of one pipeline and the receiver of another.
//! The runtime wires them as direct queue hand-offs, with no task of their own.

mod spanmetrics;

use std::path::Path;
use std::sync::Arc;

use aiotel_api::Signal;

use crate::components::{parse_block, ConnectorConfig, Factory, Kind, Parsed, Stability};
use crate::config::yaml::Value;

pub fn factories() -> Vec<Factory> {
    vec![
        Factory {
            kind: Kind::Connector,
            ty: "forward",
            stability: Stability::Beta,
            signals: &Signal::ALL,
            parse: forward,
        },
        spanmetrics::factory(),
    ]
}

/// `forward` takes no settings and passes data to pipelines of the same signal.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Forward {}

fn forward(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let f: Forward = parse_block(raw)?;
    Ok(Parsed::Connector(Arc::new(f)))
}

impl ConnectorConfig for Forward {
    fn supports(&self, from: Signal, to: Signal) -> bool {
        from == to
    }
}
