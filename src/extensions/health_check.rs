//! `health_check`: 200 once every pipeline has started, 503 while starting or stopping.

use std::path::Path;
use std::sync::Arc;

use aiotel_api::Signal;
use axum::extract::State;
use axum::response::IntoResponse;
use futures::future::BoxFuture;
use http::StatusCode;
use serde::Deserialize;

use crate::components::{parse_block, ComponentId, ExtensionConfig, Factory, Kind, Parsed, Running, Stability};
use crate::config::yaml::Value;
use crate::service::{Health, ServiceCtx};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheckConfig {
    pub endpoint: String,
    pub path: String,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        Self { endpoint: "localhost:13133".into(), path: "/".into() }
    }
}

pub fn factory() -> Factory {
    Factory { kind: Kind::Extension, ty: "health_check", stability: Stability::Beta, signals: &Signal::ALL, parse }
}

fn parse(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: HealthCheckConfig = parse_block(raw)?;
    if !cfg.path.starts_with('/') {
        return Err(vec![("path".into(), "must start with '/'".into())]);
    }
    Ok(Parsed::Extension(Arc::new(cfg)))
}

impl ExtensionConfig for HealthCheckConfig {
    fn start(&self, id: &ComponentId, ctx: &ServiceCtx) -> BoxFuture<'static, Result<Box<dyn Running>, String>> {
        let cfg = self.clone();
        let health = ctx.health.clone();
        let id = id.to_string();
        Box::pin(async move {
            let listener = crate::net::bind(&cfg.endpoint).await?;
            let router = axum::Router::new().route(&cfg.path, axum::routing::get(status)).with_state(health);
            tracing::info!(extension = %id, endpoint = %cfg.endpoint, "health check listening");
            Ok(Box::new(Server(crate::net::serve(listener, None, router))) as Box<dyn Running>)
        })
    }
}

async fn status(State(h): State<Arc<Health>>) -> impl IntoResponse {
    let (code, status) = if h.is_ready() {
        (StatusCode::OK, "Server available")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Server not available")
    };
    (
        code,
        [(http::header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "status": status, "uptime": h.uptime() }).to_string(),
    )
}

struct Server(crate::net::HttpServer);

impl Running for Server {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(self.0.stop())
    }
}
