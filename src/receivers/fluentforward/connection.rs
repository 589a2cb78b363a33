//! One client connection: the optional handshake, then messages one at a
//! time. A message's records go to the pipeline as one batch, and its
//! `chunk` is acknowledged only once the pipeline has accepted all of them.
//!
//! When the pipeline refuses, no ack is sent and the connection stays open:
//! the client's ack timeout makes it resend, which also paces it while the
//! pipeline is full. Malformed or oversized input closes the connection with
//! a logged reason; it never touches other connections or earlier messages.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aiotel_api::otlp::logs::v1::{ResourceLogs, ScopeLogs};
use aiotel_api::Payload;
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::decode::{decode, DecodeError, Limits};
use super::frame::{FrameError, Scanner};
use super::handshake::{ack, check_ping, helo, pong, HandshakeError};
use crate::pipeline::Fanout;
use crate::receivers::ingest;
use crate::telemetry::{ComponentCounters, SelfMetrics};

/// A PING is a few hundred bytes; anything near this is not one.
const MAX_PING: usize = 4096;
const READ_CHUNK: usize = 64 << 10;
/// A client that has not sent its PING by then is dropped, so it cannot hold a connection slot.
const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What every connection of one listener shares.
pub struct Shared {
    pub id: String,
    pub transport: &'static str,
    pub out: Fanout,
    pub counters: ComponentCounters,
    pub metrics: Arc<SelfMetrics>,
    pub limits: Limits,
    pub max_message_size: usize,
    pub shared_key: Option<String>,
    pub self_hostname: String,
    pub stop: CancellationToken,
}

#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    #[error("connection closed in the middle of a message ({0} bytes received)")]
    Truncated(usize),
    #[error("no PING within {PING_TIMEOUT:?} of the HELO")]
    PingTimeout,
}

impl ConnError {
    /// The `reason` label of the protocol-error counter; `None` for plain I/O errors.
    fn reason(&self) -> Option<&'static str> {
        match self {
            ConnError::Io(_) => None,
            ConnError::Frame(FrameError::TooLarge(_))
            | ConnError::Decode(DecodeError::TooManyEntries(_) | DecodeError::DecompressedTooLarge(_)) => {
                Some("too_large")
            }
            ConnError::Decode(DecodeError::Signal(_)) => Some("unsupported"),
            ConnError::Frame(_) | ConnError::Decode(_) => Some("malformed"),
            ConnError::Handshake(_) | ConnError::PingTimeout => Some("handshake"),
            ConnError::Truncated(_) => Some("truncated"),
        }
    }
}

/// Serves one connection until the client closes it, it misbehaves, or the receiver stops.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(stream: S, peer: String, shared: Arc<Shared>) {
    let mut conn = Conn { stream, buf: BytesMut::new(), shared: shared.clone() };
    match conn.run().await {
        Ok(()) => tracing::debug!(receiver = %shared.id, %peer, "fluent connection closed"),
        Err(e) => {
            if let Some(reason) = e.reason() {
                shared.metrics.receiver_error(&shared.id, shared.transport, reason).inc();
                tracing::warn!(receiver = %shared.id, %peer, error = %e, "closing fluent connection");
            } else {
                tracing::debug!(receiver = %shared.id, %peer, error = %e, "fluent connection failed");
            }
        }
    }
}

struct Conn<S> {
    stream: S,
    buf: BytesMut,
    shared: Arc<Shared>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    async fn run(&mut self) -> Result<(), ConnError> {
        if let Some(key) = self.shared.shared_key.clone() {
            if !self.handshake(&key).await? {
                return Ok(());
            }
        }
        let mut scanner = Scanner::new(self.shared.max_message_size);
        while let Some(frame) = self.next_frame(&mut scanner).await? {
            self.handle(&frame).await?;
        }
        Ok(())
    }

    /// The next whole message, or `None` when the client closed between messages or the receiver stops.
    async fn next_frame(&mut self, scanner: &mut Scanner) -> Result<Option<BytesMut>, ConnError> {
        loop {
            if let Some(len) = scanner.scan(&self.buf)? {
                scanner.reset();
                return Ok(Some(self.buf.split_to(len)));
            }
            self.buf.reserve(scanner.wanted(self.buf.len()).max(READ_CHUNK));
            let n = tokio::select! {
                r = self.stream.read_buf(&mut self.buf) => r?,
                _ = self.shared.stop.cancelled() => return Ok(None),
            };
            if n == 0 {
                return if self.buf.is_empty() { Ok(None) } else { Err(ConnError::Truncated(self.buf.len())) };
            }
        }
    }

    /// HELO, PING, PONG. `false` when the client left before sending its PING.
    async fn handshake(&mut self, key: &str) -> Result<bool, ConnError> {
        let nonce: [u8; 16] = rand::random();
        self.stream.write_all(&helo(&nonce)).await?;
        let mut scanner = Scanner::new(MAX_PING);
        let ping = tokio::time::timeout(PING_TIMEOUT, self.next_frame(&mut scanner)).await;
        let Some(ping) = ping.map_err(|_| ConnError::PingTimeout)?? else { return Ok(false) };
        let host = &self.shared.self_hostname;
        match check_ping(&ping, &nonce, key) {
            Ok(p) => {
                self.stream.write_all(&pong(Some(&p), "", host, &nonce, key)).await?;
                tracing::debug!(receiver = %self.shared.id, client = %p.client_hostname, "fluent handshake done");
                Ok(true)
            }
            Err(e) => {
                let _ = self.stream.write_all(&pong(None, &e.to_string(), host, &nonce, key)).await;
                Err(e.into())
            }
        }
    }

    async fn handle(&mut self, frame: &[u8]) -> Result<(), ConnError> {
        let observed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        let d = decode(frame, &self.shared.limits, observed)?;
        let n = d.records.len();
        let payload = Payload::Logs(vec![ResourceLogs {
            scope_logs: vec![ScopeLogs { log_records: d.records, ..Default::default() }],
            ..Default::default()
        }]);
        match ingest(&self.shared.out, &self.shared.counters, payload).await {
            Ok(_) => {
                if let Some(chunk) = &d.chunk {
                    self.stream.write_all(&ack(chunk)).await?;
                }
            }
            Err(e) => {
                tracing::warn!(
                    receiver = %self.shared.id, tag = %d.tag, mode = d.mode.as_str(), records = n,
                    chunk = d.chunk.as_deref().unwrap_or(""), error = %e,
                    "pipeline refused fluent records; no ack sent"
                );
            }
        }
        Ok(())
    }
}
