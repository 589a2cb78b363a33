//! The re-route path end to end in one process: a real gRPC sink, a
//! backend that is down, and the down backend leaving the resolver.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aiotel_api::otlp::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use aiotel_api::otlp::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use aiotel_api::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};
use aiotel_api::{Ack, Batch, Payload, Signal};
use tokio_util::sync::CancellationToken;

use super::{Lb, LoadBalancingConfig};
use crate::service::ServiceCtx;

/// Spans received, by trace id.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<HashMap<Vec<u8>, usize>>>);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        req: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut m = self.0.lock().unwrap();
        for s in req.into_inner().resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans) {
            *m.entry(s.trace_id.clone()).or_default() += 1;
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn batch(trace: u8, spans: usize) -> Batch {
    let spans = (0..spans).map(|i| Span { trace_id: vec![trace; 16], span_id: vec![i as u8; 8], ..Default::default() });
    let p = Payload::Traces(vec![ResourceSpans {
        scope_spans: vec![ScopeSpans { spans: spans.collect(), ..Default::default() }],
        ..Default::default()
    }]);
    Batch::new(p, vec![Ack::new().0])
}

#[tokio::test]
async fn a_removed_backends_queue_is_rerouted_not_lost() {
    let sink = Sink::default();
    let live_port = free_port();
    let server = TraceServiceServer::new(sink.clone());
    let addr = format!("127.0.0.1:{live_port}").parse().unwrap();
    tokio::spawn(tonic::transport::Server::builder().add_service(server).serve(addr));
    let live = format!("127.0.0.1:{live_port}");
    // Nothing listens here: its batches stay queued and in retry.
    let dead = format!("127.0.0.1:{}", free_port());

    let cfg: LoadBalancingConfig = serde_yaml_ng::from_str(
        "protocol: {otlp: {tls: {insecure: true}, compression: none, timeout: 1s}}
retry_on_failure: {initial_interval: 20ms, max_interval: 50ms, max_elapsed_time: 0s}
sending_queue: {num_consumers: 2, queue_size: 100}
resolver: {static: {hostnames: [x]}}",
    )
    .unwrap();
    let ctx = ServiceCtx::new();
    let counters = ctx.metrics.exporter("loadbalancing", Signal::Traces);
    let (mut lb, reroute_rx) =
        Lb::new(cfg, "loadbalancing".into(), Signal::Traces, &ctx, counters.clone(), CancellationToken::new());
    lb.apply(vec![dead.clone(), live.clone()]);
    let traces: Vec<u8> = (0..60).collect();
    let dead_owned = traces.iter().filter(|t| lb.ring.owner(&[**t; 16]) == Some(dead.as_str())).count();
    assert!(dead_owned > 5, "the dead backend must own some traces, owns {dead_owned}");
    for t in &traces {
        lb.route(batch(*t, 3), false).await;
    }
    // The live backend gets its share; the dead one's stays queued.
    let got = |s: &Sink| s.0.lock().unwrap().values().sum::<usize>();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while got(&sink) < (60 - dead_owned) * 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(got(&sink), (60 - dead_owned) * 3);

    lb.apply(vec![live.clone()]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while got(&sink) < 180 && tokio::time::Instant::now() < deadline {
        match reroute_rx.try_recv() {
            Ok(b) => lb.route(b, true).await,
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    let m = sink.0.lock().unwrap().clone();
    assert_eq!(m.len(), 60, "every trace arrives");
    assert!(m.values().all(|n| *n == 3), "each trace whole, once: {m:?}");
    assert_eq!((counters.dropped.get(), counters.send_failed.get(), counters.enqueue_failed.get()), (0, 0, 0));
    assert_eq!(lb.rerouted.get(), dead_owned as u64 * 3);
}

#[tokio::test]
async fn a_persistent_queue_applies_to_each_backend() {
    let sink = Sink::default();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    tokio::spawn(tonic::transport::Server::builder().add_service(TraceServiceServer::new(sink.clone())).serve(addr));
    let dir = tempfile::tempdir().unwrap();
    let cfg: LoadBalancingConfig = serde_yaml_ng::from_str(&format!(
        "protocol: {{otlp: {{tls: {{insecure: true}}, compression: none}}}}
sending_queue: {{persistent: {{directory: {}}}}}
resolver: {{static: {{hostnames: [x]}}}}",
        dir.path().display()
    ))
    .unwrap();
    let ctx = ServiceCtx::new();
    let counters = ctx.metrics.exporter("loadbalancing", Signal::Traces);
    let (mut lb, _rx) = Lb::new(cfg, "loadbalancing".into(), Signal::Traces, &ctx, counters, CancellationToken::new());
    lb.apply(vec![format!("127.0.0.1:{port}")]);
    let (ack, done) = Ack::new();
    let mut b = batch(7, 4);
    b.acks = vec![ack];
    lb.route(b, false).await;
    // Acknowledged once in the log, then delivered from it.
    tokio::time::timeout(Duration::from_secs(10), done).await.unwrap().unwrap().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sink.0.lock().unwrap().get(&vec![7u8; 16]).copied() != Some(4) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sink.0.lock().unwrap().get(&vec![7u8; 16]).copied(), Some(4));
    let dirs: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    assert!(dirs[0].to_string_lossy().contains(&port.to_string()), "{dirs:?}");
}
