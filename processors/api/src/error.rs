use std::time::Duration;

/// Whether the sender of refused data should try again.
///
/// Classified once where the error is born; receivers map it to gRPC and
/// HTTP status codes in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A queue is full or a backend is down: the same data may succeed later.
    Unavailable,
    /// The memory limiter refused: the client should slow down.
    ResourceExhausted,
    /// The data itself is bad; retrying cannot help.
    Permanent,
    /// The daemon is shutting down.
    ShuttingDown,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PipelineError {
    pub kind: ErrorKind,
    pub message: String,
    /// A hint for the client, sent as `Retry-After` or gRPC `RetryInfo`.
    pub retry_after: Option<Duration>,
}

impl PipelineError {
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Unavailable, message: message.into(), retry_after: Some(Duration::from_secs(1)) }
    }
    pub fn resource_exhausted(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::ResourceExhausted, message: message.into(), retry_after: Some(Duration::from_secs(1)) }
    }
    pub fn permanent(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Permanent, message: message.into(), retry_after: None }
    }
    pub fn shutting_down() -> Self {
        Self {
            kind: ErrorKind::ShuttingDown,
            message: "aiotel is shutting down".into(),
            retry_after: Some(Duration::from_secs(5)),
        }
    }
    pub fn is_retryable(&self) -> bool {
        self.kind != ErrorKind::Permanent
    }
    /// When two outcomes meet (fan-out, merged batches), the worse one wins:
    /// a permanent failure outranks a retryable one.
    pub fn worse(self, other: PipelineError) -> PipelineError {
        if other.kind == ErrorKind::Permanent && self.kind != ErrorKind::Permanent {
            other
        } else {
            self
        }
    }
}
