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

use super::{Lb, LoadBalancingConfig, REROUTE_CAPACITY};
use crate::service::ServiceCtx;

/// Spans received, by trace id; each export answered after `delay`.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<HashMap<Vec<u8>, usize>>>, Duration);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        req: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        {
            let mut m = self.0.lock().unwrap();
            for s in req.into_inner().resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans) {
                *m.entry(s.trace_id.clone()).or_default() += 1;
            }
        }
        tokio::time::sleep(self.1).await;
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Sink {
    /// Serves on a free loopback port; returns its endpoint.
    fn serve(&self) -> String {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        let svc = TraceServiceServer::new(self.clone());
        tokio::spawn(tonic::transport::Server::builder().add_service(svc).serve(addr));
        format!("127.0.0.1:{port}")
    }

    fn spans(&self) -> usize {
        self.0.lock().unwrap().values().sum()
    }
}

/// A backend that accepts connections and never reads them, like a stopped process.
async fn hanging() -> (String, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (addr, task)
}

/// Routes what removed backends hand back until `done`, for at most `within`.
async fn drive(lb: &mut Lb, reroute_rx: &async_channel::Receiver<Batch>, within: Duration, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !done() && tokio::time::Instant::now() < deadline {
        match reroute_rx.try_recv() {
            Ok(b) => lb.route(b, true).await,
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

fn lb(yaml: &str) -> (Lb, async_channel::Receiver<Batch>, crate::telemetry::ComponentCounters) {
    let cfg: LoadBalancingConfig = serde_yaml_ng::from_str(yaml).unwrap();
    let ctx = ServiceCtx::new();
    let counters = ctx.metrics.exporter("loadbalancing", Signal::Traces);
    let (lb, rx) =
        Lb::new(cfg, "loadbalancing".into(), Signal::Traces, &ctx, counters.clone(), CancellationToken::new());
    (lb, rx, counters)
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

#[tokio::test]
async fn an_export_in_flight_to_a_removed_live_backend_finishes_there_once() {
    // Answers take 300ms, well inside the removal grace.
    let slow = Sink(Default::default(), Duration::from_millis(300));
    let fast = Sink::default();
    let (slow_ep, fast_ep) = (slow.serve(), fast.serve());
    let (mut lb, reroute_rx, counters) =
        lb("protocol: {otlp: {tls: {insecure: true}, compression: none, timeout: 10s}}
sending_queue: {num_consumers: 2, queue_size: 100}
resolver: {static: {hostnames: [x]}}");
    lb.apply(vec![slow_ep.clone(), fast_ep.clone()]);
    let traces: Vec<u8> = (0..60).collect();
    let slow_owned: Vec<u8> =
        traces.iter().copied().filter(|t| lb.ring.owner(&[*t; 16]) == Some(slow_ep.as_str())).collect();
    assert!(slow_owned.len() > 5, "the slow backend must own some traces");
    for t in &traces {
        lb.route(batch(*t, 3), false).await;
    }
    // Both workers of the slow backend now wait for an answer; the rest is queued.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while slow.spans() < 6 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    lb.apply(vec![fast_ep.clone()]);
    drive(&mut lb, &reroute_rx, Duration::from_secs(10), || slow.spans() + fast.spans() >= 180).await;
    // Anything sent twice would arrive here.
    drive(&mut lb, &reroute_rx, Duration::from_millis(500), || false).await;

    let (s, f) = (slow.0.lock().unwrap().clone(), fast.0.lock().unwrap().clone());
    assert_eq!(s.values().sum::<usize>(), 6, "the two exports in flight finished at the slow backend: {s:?}");
    for t in traces {
        let n = s.get(&vec![t; 16]).copied().unwrap_or(0) + f.get(&vec![t; 16]).copied().unwrap_or(0);
        assert_eq!(n, 3, "trace {t} delivered once, whole");
    }
    assert_eq!(lb.rerouted.get(), (slow_owned.len() as u64 - 2) * 3);
    assert_eq!(counters.sent.get(), 180);
    assert_eq!((counters.dropped.get(), counters.send_failed.get(), counters.enqueue_failed.get()), (0, 0, 0));
}

#[tokio::test]
async fn an_export_hanging_at_a_removed_backend_is_abandoned_and_rerouted() {
    let (stuck_ep, _stuck) = hanging().await;
    let sink = Sink::default();
    let live_ep = sink.serve();
    let (mut lb, reroute_rx, counters) =
        lb("protocol: {otlp: {tls: {insecure: true}, compression: none, timeout: 60s}}
sending_queue: {num_consumers: 2, queue_size: 100}
resolver: {static: {hostnames: [x]}}");
    lb.links.grace = Duration::from_millis(200);
    lb.apply(vec![stuck_ep.clone(), live_ep.clone()]);
    let traces: Vec<u8> = (0..60).collect();
    let stuck_owned = traces.iter().filter(|t| lb.ring.owner(&[**t; 16]) == Some(stuck_ep.as_str())).count();
    assert!(stuck_owned > 5, "the stuck backend must own some traces");
    for t in &traces {
        lb.route(batch(*t, 3), false).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sink.spans() < (60 - stuck_owned) * 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sink.spans(), (60 - stuck_owned) * 3, "the stuck backend's share waits");

    let removed_at = std::time::Instant::now();
    lb.apply(vec![live_ep.clone()]);
    drive(&mut lb, &reroute_rx, Duration::from_secs(10), || sink.spans() >= 180).await;
    let m = sink.0.lock().unwrap().clone();
    assert_eq!(m.len(), 60, "every trace arrives");
    assert!(m.values().all(|n| *n == 3), "each trace whole, once: {m:?}");
    // The exports in flight were abandoned after the grace, not the 60s timeout.
    assert!(removed_at.elapsed() < Duration::from_secs(5), "{:?}", removed_at.elapsed());
    assert_eq!(lb.rerouted.get(), stuck_owned as u64 * 3);
    assert_eq!((counters.dropped.get(), counters.send_failed.get(), counters.enqueue_failed.get()), (0, 0, 0));
}

#[tokio::test]
async fn shutdown_routes_what_a_removed_backend_still_hands_back() {
    // More batches than the hand-off holds, queued at a backend nobody answers.
    let (stuck_ep, _stuck) = hanging().await;
    let sink = Sink::default();
    let live_ep = sink.serve();
    // `run` resolves first: the static list is the live backend alone.
    let (mut lb, reroute_rx, counters) = lb(&format!(
        "protocol: {{otlp: {{tls: {{insecure: true}}, compression: none, timeout: 60s}}}}
sending_queue: {{num_consumers: 1, queue_size: 1000}}
resolver: {{static: {{hostnames: ['{live_ep}']}}}}"
    ));
    lb.links.grace = Duration::from_millis(100);
    lb.apply(vec![stuck_ep.clone(), live_ep.clone()]);
    let stuck: Vec<u8> = (0..=255u8).filter(|t| lb.ring.owner(&[*t; 16]) == Some(stuck_ep.as_str())).collect();
    let n = REROUTE_CAPACITY * 2;
    for i in 0..n {
        lb.route(batch(stuck[i % stuck.len()], 1), false).await;
    }
    lb.apply(vec![live_ep.clone()]);
    // The pipeline ends at once: the router must keep serving the hand-off.
    let (tx, rx) = async_channel::bounded::<Batch>(1);
    drop(tx);
    tokio::time::timeout(Duration::from_secs(10), lb.run(rx, reroute_rx)).await.expect("shutdown finishes");
    assert_eq!(sink.spans(), n);
    assert_eq!((counters.dropped.get(), counters.undelivered.get()), (0, 0));
}
