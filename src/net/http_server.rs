use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Binds `host:port`, preferring IPv4 for names such as `localhost`.
pub async fn bind(endpoint: &str) -> Result<TcpListener, String> {
    let addrs: Vec<_> =
        tokio::net::lookup_host(endpoint).await.map_err(|e| format!("cannot resolve {endpoint:?}: {e}"))?.collect();
    let addr =
        addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).ok_or(format!("{endpoint:?} resolves to nothing"))?;
    TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {endpoint} ({addr}): {e}"))
}

/// A running HTTP server; `stop` finishes in-flight requests, then returns.
pub struct HttpServer {
    stop: CancellationToken,
    done: JoinHandle<()>,
}

impl HttpServer {
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.done.await;
    }
}

/// Serves `router` on `listener`, over TLS when an acceptor is given.
pub fn serve(listener: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>, router: axum::Router) -> HttpServer {
    let stop = CancellationToken::new();
    let token = stop.clone();
    let done = tokio::spawn(async move {
        let graceful = GracefulShutdown::new();
        let builder = Builder::new(TokioExecutor::new());
        loop {
            let (stream, _) = tokio::select! {
                c = listener.accept() => match c {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = token.cancelled() => break,
            };
            let _ = stream.set_nodelay(true);
            let svc = TowerToHyperService::new(router.clone());
            let builder = builder.clone();
            let watcher = graceful.watcher();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acc) => match acc.accept(stream).await {
                        Ok(s) => {
                            let conn = builder.serve_connection_with_upgrades(TokioIo::new(s), svc).into_owned();
                            let _ = watcher.watch(conn).await;
                        }
                        Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
                    },
                    None => {
                        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc).into_owned();
                        let _ = watcher.watch(conn).await;
                    }
                }
            });
        }
        drop(listener);
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("HTTP connections still open after 10s; closing"),
        }
    });
    HttpServer { stop, done }
}
