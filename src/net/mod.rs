//! Listening sockets shared by receivers, extensions and self-metrics.

mod http_server;
mod tls;

pub use http_server::{bind, serve, HttpServer};
pub use tls::ServerTls;
