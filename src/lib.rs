//! aiotel: a telemetry pipeline daemon for AI systems.

pub mod components;
pub mod config;
pub mod connectors;
pub mod exporters;
pub mod extensions;
pub mod net;
pub mod pipeline;
pub mod processors;
pub mod receivers;
pub mod service;
pub mod status;
pub mod telemetry;
