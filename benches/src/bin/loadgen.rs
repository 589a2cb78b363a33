//! Sends a fixed number of spans over OTLP/gRPC as fast as the target takes
//! them, from pre-encoded requests so the generator itself costs little CPU.
//! Retryable refusals are retried, so every span is eventually acknowledged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aiotel::exporters::encode::to_protobuf;
use aiotel::exporters::otlp_grpc::RawCodec;
use aiotel_api::Payload;
use aiotel_bench::{resource_spans, Shape};
use clap::Parser;
use tonic::transport::Channel;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:4317")]
    endpoint: String,
    #[arg(long, default_value_t = 1_000_000)]
    spans: u64,
    /// Spans per request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long, value_enum, default_value_t = Shape::Plain)]
    shape: Shape,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = Args::parse();
    let pool: Arc<Vec<bytes::Bytes>> =
        Arc::new((0..32).map(|seed| to_protobuf(&Payload::Traces(resource_spans(a.shape, a.batch, seed)))).collect());
    let request_bytes = pool[0].len();
    let channel = Channel::from_shared(a.endpoint.clone()).expect("endpoint").connect_lazy();
    let requests = a.spans.div_ceil(a.batch as u64);
    let next = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (pool, ch, next, retries) = (pool.clone(), channel.clone(), next.clone(), retries.clone());
        tasks.push(tokio::spawn(async move {
            let mut grpc = tonic::client::Grpc::new(ch);
            let path =
                http::uri::PathAndQuery::from_static("/opentelemetry.proto.collector.trace.v1.TraceService/Export");
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= requests {
                    return;
                }
                let body = pool[(k % pool.len() as u64) as usize].clone();
                loop {
                    grpc.ready().await.expect("channel ready");
                    match grpc.unary(tonic::Request::new(body.clone()), path.clone(), RawCodec).await {
                        Ok(_) => break,
                        Err(s) if matches!(s.code(), tonic::Code::Unavailable | tonic::Code::ResourceExhausted) => {
                            retries.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Err(s) => panic!("export failed: {s}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("sender");
    }
    let secs = started.elapsed().as_secs_f64();
    let sent = requests * a.batch as u64;
    println!(
        "{{\"spans\": {sent}, \"seconds\": {secs:.3}, \"spans_per_sec\": {:.0}, \"request_bytes\": {request_bytes}, \"retries\": {}}}",
        sent as f64 / secs,
        retries.load(Ordering::Relaxed)
    );
}
