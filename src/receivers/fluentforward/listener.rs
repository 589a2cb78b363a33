//! Accept loops for TCP (optionally TLS) and unix sockets, and the UDP
//! heartbeat echo. Each connection runs in its own task; at most
//! `max_connections` run at once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket, UnixListener};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::connection::{serve, Shared};

/// How long shutdown waits for connections finishing a message.
const DRAIN: Duration = Duration::from_secs(10);
/// A client that does not finish its TLS handshake in this time is dropped, so it cannot hold a slot.
const TLS_HANDSHAKE: Duration = Duration::from_secs(10);

pub enum Listener {
    Tcp(TcpListener, Option<TlsAcceptor>),
    Unix(UnixListener, PathBuf),
}

/// Accepts until the receiver stops, then waits for open connections to finish their message.
pub async fn accept_loop(listener: Listener, shared: Arc<Shared>, max_connections: usize) {
    let permits = Arc::new(Semaphore::new(max_connections));
    let mut tasks = JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = shared.stop.cancelled() => break,
        };
        let accepted = tokio::select! {
            a = accept(&listener) => a,
            _ = shared.stop.cancelled() => break,
        };
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off rather than spin.
                tracing::warn!(receiver = %shared.id, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tasks.spawn(async move {
            match stream {
                Stream::Tcp(s, None) => serve(s, peer, shared).await,
                Stream::Tcp(s, Some(tls)) => match tokio::time::timeout(TLS_HANDSHAKE, tls.accept(s)).await {
                    Ok(Ok(s)) => serve(s, peer, shared).await,
                    Ok(Err(e)) => {
                        shared.metrics.receiver_error(&shared.id, shared.transport, "tls").inc();
                        tracing::warn!(receiver = %shared.id, %peer, error = %e, "TLS handshake failed");
                    }
                    Err(_) => {
                        let e = format!("no TLS handshake within {TLS_HANDSHAKE:?}");
                        shared.metrics.receiver_error(&shared.id, shared.transport, "tls").inc();
                        tracing::warn!(receiver = %shared.id, %peer, error = %e, "TLS handshake failed");
                    }
                },
                Stream::Unix(s) => serve(s, peer, shared).await,
            }
            drop(permit);
        });
    }
    if let Listener::Unix(_, path) = &listener {
        let _ = std::fs::remove_file(path);
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await.is_err() {
        tracing::warn!(receiver = %shared.id, "fluent connections still busy after {DRAIN:?}; closing them");
        tasks.abort_all();
    }
}

enum Stream {
    Tcp(tokio::net::TcpStream, Option<TlsAcceptor>),
    Unix(tokio::net::UnixStream),
}

async fn accept(l: &Listener) -> std::io::Result<(Stream, String)> {
    match l {
        Listener::Tcp(l, tls) => {
            let (s, addr) = l.accept().await?;
            let _ = s.set_nodelay(true);
            Ok((Stream::Tcp(s, tls.clone()), addr.to_string()))
        }
        Listener::Unix(l, path) => {
            let (s, _) = l.accept().await?;
            Ok((Stream::Unix(s), format!("unix:{}", path.display())))
        }
    }
}

/// Binds a unix socket, replacing a stale socket file left by an earlier run.
pub fn bind_unix(path: &std::path::Path) -> Result<UnixListener, String> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(format!("{} exists and is not a socket", path.display()));
        }
        std::fs::remove_file(path).map_err(|e| format!("cannot remove stale socket {}: {e}", path.display()))?;
    }
    UnixListener::bind(path).map_err(|e| format!("cannot listen on unix://{}: {e}", path.display()))
}

/// Echoes every UDP heartbeat back to its sender, as Fluentd's `in_forward` does.
pub async fn heartbeat(sock: UdpSocket, stop: tokio_util::sync::CancellationToken) {
    let mut buf = [0u8; 64];
    loop {
        let (n, from) = tokio::select! {
            r = sock.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(error = %e, "heartbeat receive failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        if let Err(e) = sock.send_to(&buf[..n.max(1)], from).await {
            tracing::debug!(%from, error = %e, "heartbeat echo failed");
        }
    }
}
