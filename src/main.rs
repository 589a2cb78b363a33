use std::path::PathBuf;
use std::process::ExitCode;

use aiotel::components::{Kind, Registry};
use aiotel::config::{Config, Source};
use clap::{Parser, Subcommand};

/// A telemetry pipeline daemon for AI systems, configured like the OpenTelemetry Collector.
#[derive(Parser)]
#[command(name = "aiotel", version)]
struct Cli {
    /// Config file; repeat to merge several, later ones winning. Without it, the embedded default runs.
    #[arg(long = "config", short = 'c', global = true)]
    config: Vec<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Check the config and print every error; exit non-zero if there is any.
    Validate,
    /// List every component type with its stability.
    Components,
    /// Print the embedded default config.
    DefaultConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let registry = Registry::builtin();
    match cli.command {
        Some(Command::Components) => {
            print_components(&registry);
            return ExitCode::SUCCESS;
        }
        Some(Command::DefaultConfig) => {
            print!("{}", aiotel::config::DEFAULT_CONFIG);
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let sources = if cli.config.is_empty() {
        Ok(vec![Source::embedded_default()])
    } else {
        cli.config.iter().map(|p| Source::file(p)).collect::<Result<Vec<_>, _>>()
    };
    let loaded = sources.and_then(|s| {
        // Component configs may start threads or read files, so parse inside the runtime.
        Config::load(&s, &registry)
    });
    let cfg = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    if matches!(cli.command, Some(Command::Validate)) {
        println!("config is valid: {} pipeline(s)", cfg.pipelines.len());
        return ExitCode::SUCCESS;
    }
    aiotel::telemetry::init_logs(&cfg.telemetry);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(1);
    let run = async move {
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut hup) = signal(SignalKind::hangup()) else { return };
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP received; reloading data files");
                let _ = reload_tx.try_send(());
            }
        });
        aiotel::service::run(cfg, shutdown_signal(), reload_rx).await
    };
    match rt.block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "aiotel failed");
            eprintln!("aiotel: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}

fn print_components(registry: &Registry) {
    for kind in [Kind::Receiver, Kind::Processor, Kind::Exporter, Kind::Connector, Kind::Extension] {
        println!("{}:", kind.section());
        for f in registry.all().iter().filter(|f| f.kind == kind) {
            let signals: Vec<&str> = f.signals.iter().map(|s| s.as_str()).collect();
            println!("  {:<16} {:<12} {}", f.ty, f.stability.to_string(), signals.join(", "));
        }
    }
}
