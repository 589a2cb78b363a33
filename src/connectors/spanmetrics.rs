//! `spanmetrics`: R.E.D. and GenAI metrics from 100% of spans, before any sampling.

use std::path::Path;
use std::sync::Arc;

use aiotel_api::{Processor, Signal};
use aiotel_spanmetrics::{SpanMetricsConfig, SpanMetricsConnector};

use crate::components::{parse_block, split_issues, ConnectorConfig, Factory, Kind, Parsed, Stability};
use crate::config::yaml::Value;
use crate::service::ServiceCtx;

pub fn factory() -> Factory {
    Factory { kind: Kind::Connector, ty: "spanmetrics", stability: Stability::Alpha, signals: &[Signal::Traces], parse }
}

fn parse(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: SpanMetricsConfig = parse_block(raw)?;
    cfg.validate().map_err(split_issues)?;
    Ok(Parsed::Connector(Arc::new(Config(cfg))))
}

struct Config(SpanMetricsConfig);

impl ConnectorConfig for Config {
    fn supports(&self, from: Signal, to: Signal) -> bool {
        from == Signal::Traces && to == Signal::Metrics
    }

    fn build(&self, _from: Signal, _to: Signal, _ctx: &ServiceCtx) -> Result<Option<Box<dyn Processor>>, String> {
        Ok(Some(Box::new(SpanMetricsConnector::new(&self.0)?)))
    }
}
