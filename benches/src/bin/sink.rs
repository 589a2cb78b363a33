//! A counting OTLP/gRPC sink: accepts every export, counts spans, and exits
//! once it has seen `--expect` spans, printing how long that took.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tonic::codec::CompressionEncoding;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:14317")]
    listen: String,
    #[arg(long)]
    expect: u64,
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
}

struct Sink {
    count: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        req: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let n: usize = req.get_ref().resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = Args::parse();
    let count = Arc::new(AtomicU64::new(0));
    let svc = TraceServiceServer::new(Sink { count: count.clone() })
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(256 << 20);
    let addr = a.listen.parse().expect("listen address");
    tokio::spawn(tonic::transport::Server::builder().add_service(svc).serve(addr));
    let mut first: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(a.timeout_secs);
    loop {
        let c = count.load(Ordering::Relaxed);
        if c > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        if c >= a.expect {
            let secs = first.map(|f| f.elapsed().as_secs_f64()).unwrap_or(0.0);
            println!("{{\"received\": {c}, \"seconds\": {secs:.3}}}");
            return;
        }
        if Instant::now() > deadline {
            eprintln!("timed out with {c} of {} spans", a.expect);
            std::process::exit(1);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
