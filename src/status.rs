//! The one place where pipeline errors meet gRPC and HTTP status codes,
//! in both directions: answering clients, and classifying backend answers.

use std::time::Duration;

use aiotel_api::{ErrorKind, PipelineError};
use http::StatusCode;
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// The hint a retryable refusal carries when its cause gave none (a
/// backend's answer passed through): clients that honour it slow down.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

fn retry_hint(err: &PipelineError) -> Option<Duration> {
    err.is_retryable().then(|| err.retry_after.unwrap_or(DEFAULT_RETRY_AFTER))
}

/// The gRPC status a client receives for a refused request.
pub fn to_grpc(err: &PipelineError) -> tonic::Status {
    let code = match err.kind {
        ErrorKind::Unavailable | ErrorKind::ShuttingDown => Code::Unavailable,
        ErrorKind::ResourceExhausted => Code::ResourceExhausted,
        ErrorKind::Permanent => Code::InvalidArgument,
    };
    match retry_hint(err) {
        Some(d) => tonic::Status::with_error_details(code, err.message.clone(), ErrorDetails::with_retry_info(Some(d))),
        None => tonic::Status::new(code, err.message.clone()),
    }
}

/// The HTTP status a client receives for a refused request, with `Retry-After` seconds.
pub fn to_http(err: &PipelineError) -> (StatusCode, Option<u64>) {
    let code = match err.kind {
        ErrorKind::Unavailable | ErrorKind::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Permanent => StatusCode::BAD_REQUEST,
    };
    (code, retry_hint(err).map(|d| d.as_secs().max(1)))
}

/// Classifies a backend's gRPC answer as the OTLP spec says: only these codes are retryable.
pub fn from_grpc(status: &tonic::Status) -> PipelineError {
    let msg = format!("backend answered {:?}: {}", status.code(), status.message());
    let retry_after = status.get_details_retry_info().and_then(|r| r.retry_delay);
    match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => PipelineError { retry_after, ..PipelineError::unavailable(msg) },
        // Retryable only when the server says when, as the spec requires.
        Code::ResourceExhausted if retry_after.is_some() => {
            PipelineError { retry_after, ..PipelineError::resource_exhausted(msg) }
        }
        _ => PipelineError::permanent(msg),
    }
}

/// Classifies a backend's HTTP answer: 429, 502, 503 and 504 are retryable.
pub fn from_http(status: StatusCode, retry_after: Option<Duration>, body: &str) -> PipelineError {
    let msg = format!("backend answered HTTP {status}: {}", body.chars().take(300).collect::<String>());
    match status.as_u16() {
        429 => PipelineError { retry_after, ..PipelineError::resource_exhausted(msg) },
        502..=504 => PipelineError { retry_after, ..PipelineError::unavailable(msg) },
        _ => PipelineError::permanent(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_retryability() {
        for err in [
            PipelineError::unavailable("x"),
            PipelineError::resource_exhausted("x"),
            PipelineError::permanent("x"),
            PipelineError::shutting_down(),
        ] {
            let g = from_grpc(&to_grpc(&err));
            assert_eq!(g.is_retryable(), err.is_retryable(), "{err:?}");
            let (code, after) = to_http(&err);
            let h = from_http(code, after.map(Duration::from_secs), "");
            assert_eq!(h.is_retryable(), err.is_retryable(), "{err:?}");
        }
        assert!(!from_grpc(&tonic::Status::resource_exhausted("no hint")).is_retryable());
    }

    #[test]
    fn every_retryable_refusal_carries_a_hint() {
        // A backend's UNAVAILABLE without RetryInfo, passed through to our client.
        let passed = from_grpc(&tonic::Status::unavailable("down"));
        assert_eq!(passed.retry_after, None);
        assert_eq!(to_http(&passed), (StatusCode::SERVICE_UNAVAILABLE, Some(1)));
        assert_eq!(to_grpc(&passed).get_details_retry_info().and_then(|r| r.retry_delay), Some(Duration::from_secs(1)));
        let slow =
            PipelineError { retry_after: Some(Duration::from_millis(300)), ..PipelineError::resource_exhausted("x") };
        assert_eq!(to_http(&slow), (StatusCode::TOO_MANY_REQUESTS, Some(1)));
        let bad = PipelineError::permanent("x");
        assert_eq!(to_http(&bad), (StatusCode::BAD_REQUEST, None));
        assert!(to_grpc(&bad).get_details_retry_info().is_none());
    }
}
