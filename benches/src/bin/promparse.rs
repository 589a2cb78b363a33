//! Prometheus scrape parse speed: parses a node-exporter-like exposition (or
//! a captured one, `--file`) over and over and prints samples/s, for the
//! parser alone and for parse + target labels + OTLP mapping.

use std::time::{Duration, Instant};

use aiotel::receivers::prometheus::labeling::{label_samples, LabelRules};
use aiotel::receivers::prometheus::mapping::{scrape_report, TargetState};
use aiotel::receivers::prometheus::parser::{parse, Format};
use aiotel::receivers::prometheus::target::Target;
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// An exposition to parse instead of the generated one.
    #[arg(long)]
    file: Option<std::path::PathBuf>,
    /// Parse it as OpenMetrics.
    #[arg(long)]
    openmetrics: bool,
    /// Generated size: CPUs (node_cpu_seconds_total has 8 modes per CPU).
    #[arg(long, default_value_t = 64)]
    cpus: usize,
    #[arg(long, default_value_t = 3)]
    seconds: u64,
}

/// A node-exporter-shaped page: per-CPU counters, per-device gauges, a
/// histogram and a summary, with HELP/TYPE lines and label values to escape.
fn generate(cpus: usize) -> String {
    let mut s = String::new();
    s.push_str(
        "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds_total counter\n",
    );
    for cpu in 0..cpus {
        for mode in ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"] {
            s.push_str(&format!(
                "node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"{mode}\"}} {}.{}\n",
                cpu * 1000 + 17,
                cpu % 97
            ));
        }
    }
    for (name, help) in [
        ("node_network_receive_bytes_total", "Network device statistic receive_bytes."),
        ("node_network_transmit_bytes_total", "Network device statistic transmit_bytes."),
        ("node_disk_read_bytes_total", "The total number of bytes read successfully."),
    ] {
        s.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
        for dev in 0..cpus {
            s.push_str(&format!("{name}{{device=\"dev{dev}\"}} {}\n", 1.2345e9 + dev as f64));
        }
    }
    s.push_str(
        "# HELP node_filesystem_avail_bytes Filesystem space available.\n# TYPE node_filesystem_avail_bytes gauge\n",
    );
    for fs in 0..cpus {
        s.push_str(&format!(
            "node_filesystem_avail_bytes{{device=\"/dev/sd{fs}\",fstype=\"ext4\",mountpoint=\"/mnt/\\\"data\\\\{fs}\\\"\"}} 4.2e+10\n"
        ));
    }
    s.push_str(
        "# HELP go_gc_duration_seconds A summary of the pause duration.\n# TYPE go_gc_duration_seconds summary\n",
    );
    for q in ["0", "0.25", "0.5", "0.75", "1"] {
        s.push_str(&format!("go_gc_duration_seconds{{quantile=\"{q}\"}} 3.1e-05\n"));
    }
    s.push_str("go_gc_duration_seconds_sum 0.0123\ngo_gc_duration_seconds_count 311\n");
    s.push_str("# HELP http_request_duration_seconds Latency.\n# TYPE http_request_duration_seconds histogram\n");
    for handler in 0..cpus / 4 + 1 {
        for le in ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"] {
            s.push_str(&format!(
                "http_request_duration_seconds_bucket{{handler=\"/api/v{handler}\",le=\"{le}\"}} 42\n"
            ));
        }
        s.push_str(&format!("http_request_duration_seconds_sum{{handler=\"/api/v{handler}\"}} 1.5\n"));
        s.push_str(&format!("http_request_duration_seconds_count{{handler=\"/api/v{handler}\"}} 42\n"));
    }
    s
}

fn run(label: &str, samples: usize, bytes: usize, secs: u64, mut f: impl FnMut()) {
    let deadline = Duration::from_secs(secs);
    let began = Instant::now();
    let mut rounds = 0u64;
    while began.elapsed() < deadline {
        f();
        rounds += 1;
    }
    let el = began.elapsed().as_secs_f64();
    println!(
        "{label:<28} {:>12.0} samples/s  {:>8.1} MB/s  ({rounds} rounds of {samples} samples)",
        samples as f64 * rounds as f64 / el,
        bytes as f64 * rounds as f64 / el / 1e6
    );
}

fn main() {
    let args = Args::parse();
    let text = match &args.file {
        Some(p) => std::fs::read_to_string(p).expect("readable exposition"),
        None => generate(args.cpus),
    };
    let format = if args.openmetrics { Format::OpenMetrics } else { Format::Text };
    let families = parse(&text, format).expect("the exposition parses");
    let samples: usize = families.iter().map(|f| f.samples.len()).sum();
    println!("{} families, {samples} samples, {} bytes", families.len(), text.len());
    let target = Target {
        url: "http://127.0.0.1:9100/metrics".into(),
        labels: vec![("instance".into(), "127.0.0.1:9100".into()), ("job".into(), "node".into())],
        job: "node".into(),
        instance: "127.0.0.1:9100".into(),
        scheme: "http".into(),
        address: "127.0.0.1:9100".into(),
    };
    run("parse", samples, text.len(), args.seconds, || {
        std::hint::black_box(parse(&text, format).unwrap());
    });
    let external = Default::default();
    let rules = LabelRules { honor_labels: false, metric_relabel: &[], external_labels: &external };
    let mut state = TargetState::default();
    let mut t = 0u64;
    run("parse + label + map to OTLP", samples, text.len(), args.seconds, || {
        let mut f = parse(&text, format).unwrap();
        let left = label_samples(&mut f, &target, &rules);
        t += 1_000_000_000;
        let report = scrape_report(true, Duration::from_millis(3), samples, left, 0);
        std::hint::black_box(state.convert(&target, &f, t, true, &report));
    });
}
