use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use aiotel_api::Signal;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;
/// Reads a queue's current length at scrape time.
type QueueProbe = Arc<dyn Fn() -> usize + Send + Sync>;

/// One counter family per signal, named after the signal's item noun.
struct PerSignal([Family<Labels, Counter>; 3]);

impl PerSignal {
    fn register(reg: &mut Registry, stem: &str, help: &str) -> PerSignal {
        let fams = [Family::default(), Family::default(), Family::default()];
        for (sig, fam) in Signal::ALL.iter().zip(fams.iter()) {
            let (prefix, verb) = stem.split_once('|').expect("stem is prefix|verb");
            let name = format!("{prefix}_{verb}_{}", sig.item_noun());
            reg.register(name, format!("{help} ({})", sig.item_noun().replace('_', " ")), fam.clone());
        }
        PerSignal(fams)
    }

    fn get(&self, signal: Signal, labels: &Labels) -> Counter {
        let i = Signal::ALL.iter().position(|s| *s == signal).unwrap_or(0);
        self.0[i].get_or_create(labels).clone()
    }
}

/// aiotel's own metrics, served on `service.telemetry.metrics.address`.
pub struct SelfMetrics {
    registry: Mutex<Registry>,
    receiver_accepted: PerSignal,
    receiver_refused: PerSignal,
    exporter_sent: PerSignal,
    exporter_send_failed: PerSignal,
    exporter_enqueue_failed: PerSignal,
    exporter_dropped: PerSignal,
    queue_size: Family<Labels, Gauge>,
    queue_capacity: Family<Labels, Gauge>,
    processor_stats: Family<Labels, Gauge>,
    queues: Mutex<Vec<(Labels, QueueProbe)>>,
    rss: Gauge,
    cpu: Gauge<f64, AtomicU64>,
    undelivered: Counter,
    receiver_errors: Family<Labels, Counter>,
    queue_events: Family<Labels, Counter>,
    kafka_assigned: Family<Labels, Gauge>,
}

/// Counters a component increments on its hot path, resolved once.
#[derive(Clone, Default)]
pub struct ComponentCounters {
    pub accepted: Counter,
    pub refused: Counter,
    pub sent: Counter,
    pub send_failed: Counter,
    pub enqueue_failed: Counter,
    pub dropped: Counter,
    /// Shared by every exporter: items abandoned at shutdown, for the final report.
    pub undelivered: Counter,
}

impl SelfMetrics {
    pub fn new() -> Arc<SelfMetrics> {
        let mut reg = Registry::default();
        let receiver_accepted =
            PerSignal::register(&mut reg, "aiotel_receiver|accepted", "Items accepted into the pipeline");
        let receiver_refused = PerSignal::register(&mut reg, "aiotel_receiver|refused", "Items refused to the client");
        let exporter_sent = PerSignal::register(&mut reg, "aiotel_exporter|sent", "Items delivered to the destination");
        let exporter_send_failed =
            PerSignal::register(&mut reg, "aiotel_exporter|send_failed", "Items that failed to send after retries");
        let exporter_enqueue_failed = PerSignal::register(
            &mut reg,
            "aiotel_exporter|enqueue_failed",
            "Items refused because the sending queue was full",
        );
        let exporter_dropped = PerSignal::register(
            &mut reg,
            "aiotel_exporter|dropped",
            "Items not delivered when shutdown's deadline passed",
        );
        let queue_size = Family::<Labels, Gauge>::default();
        let queue_capacity = Family::<Labels, Gauge>::default();
        reg.register("aiotel_queue_size", "Batches waiting in a queue", queue_size.clone());
        reg.register("aiotel_queue_capacity", "Capacity of a queue, in batches", queue_capacity.clone());
        let processor_stats = Family::<Labels, Gauge>::default();
        reg.register(
            "aiotel_processor_stat",
            "Counters a processor reports about itself, such as traces buffered or evicted",
            processor_stats.clone(),
        );
        let rss = Gauge::default();
        let cpu = Gauge::<f64, AtomicU64>::default();
        reg.register("aiotel_process_memory_rss_bytes", "Resident memory of the process", rss.clone());
        reg.register("aiotel_process_cpu_seconds", "CPU time used by the process, user plus system", cpu.clone());
        let undelivered = Counter::default();
        reg.register(
            "aiotel_shutdown_undelivered_items",
            "Items of any signal abandoned when shutdown's deadline passed",
            undelivered.clone(),
        );
        let receiver_errors = Family::<Labels, Counter>::default();
        reg.register(
            "aiotel_receiver_protocol_errors",
            "Messages or connections a receiver dropped as malformed, oversized or unauthorised",
            receiver_errors.clone(),
        );
        let queue_events = Family::<Labels, Counter>::default();
        reg.register(
            "aiotel_exporter_queue_events",
            "Sending queue events, by kind: corrupt records skipped and items replayed (persistent queue), items re-routed (loadbalancing)",
            queue_events.clone(),
        );
        let kafka_assigned = Family::<Labels, Gauge>::default();
        reg.register(
            "aiotel_receiver_kafka_assigned_partitions",
            "Partitions the consumer group currently assigns to this kafka receiver, per signal",
            kafka_assigned.clone(),
        );
        Arc::new(SelfMetrics {
            kafka_assigned,
            queue_events,
            receiver_errors,
            registry: Mutex::new(reg),
            receiver_accepted,
            receiver_refused,
            exporter_sent,
            exporter_send_failed,
            exporter_enqueue_failed,
            exporter_dropped,
            queue_size,
            queue_capacity,
            processor_stats,
            queues: Mutex::new(Vec::new()),
            rss,
            cpu,
            undelivered,
        })
    }

    pub fn receiver(&self, id: &str, transport: &str, signal: Signal) -> ComponentCounters {
        let l = vec![("receiver".to_string(), id.to_string()), ("transport".to_string(), transport.to_string())];
        ComponentCounters {
            accepted: self.receiver_accepted.get(signal, &l),
            refused: self.receiver_refused.get(signal, &l),
            ..Default::default()
        }
    }

    /// Counts what a receiver dropped before decoding it into items, by `reason`.
    pub fn receiver_error(&self, id: &str, transport: &str, reason: &str) -> Counter {
        let l = vec![
            ("receiver".to_string(), id.to_string()),
            ("transport".to_string(), transport.to_string()),
            ("reason".to_string(), reason.to_string()),
        ];
        self.receiver_errors.get_or_create(&l).clone()
    }

    pub fn exporter(&self, id: &str, signal: Signal) -> ComponentCounters {
        let l = vec![("exporter".to_string(), id.to_string())];
        ComponentCounters {
            sent: self.exporter_sent.get(signal, &l),
            send_failed: self.exporter_send_failed.get(signal, &l),
            enqueue_failed: self.exporter_enqueue_failed.get(signal, &l),
            dropped: self.exporter_dropped.get(signal, &l),
            undelivered: self.undelivered.clone(),
            ..Default::default()
        }
    }

    /// The number of partitions a kafka receiver's group member owns.
    pub fn kafka_assigned(&self, id: &str, signal: Signal) -> Gauge {
        let l = vec![("receiver".to_string(), id.to_string()), ("signal".to_string(), signal.to_string())];
        self.kafka_assigned.get_or_create(&l).clone()
    }

    /// Counts an `event` of an exporter's persistent queue.
    pub fn queue_event(&self, id: &str, signal: Signal, event: &str) -> Counter {
        let l = vec![
            ("exporter".to_string(), id.to_string()),
            ("signal".to_string(), signal.to_string()),
            ("event".to_string(), event.to_string()),
        ];
        self.queue_events.get_or_create(&l).clone()
    }

    /// Registers a queue; its size is read at every scrape.
    pub fn queue(
        &self,
        kind: &str,
        id: &str,
        signal: Signal,
        capacity: usize,
        len: Arc<dyn Fn() -> usize + Send + Sync>,
    ) {
        let l = vec![
            ("kind".to_string(), kind.to_string()),
            ("component".to_string(), id.to_string()),
            ("signal".to_string(), signal.to_string()),
        ];
        self.queue_capacity.get_or_create(&l).set(capacity as i64);
        if let Ok(mut q) = self.queues.lock() {
            q.push((l, len));
        }
    }

    /// Publishes a processor's own counters.
    pub fn processor_stats(&self, processor: &str, pipeline: &str, stats: &[(&'static str, u64)]) {
        for (name, v) in stats {
            let l = vec![
                ("processor".to_string(), processor.to_string()),
                ("pipeline".to_string(), pipeline.to_string()),
                ("stat".to_string(), name.to_string()),
            ];
            self.processor_stats.get_or_create(&l).set(*v as i64);
        }
    }

    /// Items abandoned at shutdown so far.
    pub fn undelivered(&self) -> u64 {
        self.undelivered.get()
    }

    /// The OpenMetrics text of every self-metric, refreshed now.
    pub fn render(&self) -> String {
        if let Ok(q) = self.queues.lock() {
            for (l, len) in q.iter() {
                self.queue_size.get_or_create(l).set(len() as i64);
            }
        }
        self.rss.set(super::rss_bytes() as i64);
        self.cpu.set(super::cpu_seconds());
        let mut out = String::new();
        if let Ok(reg) = self.registry.lock() {
            let _ = encode(&mut out, &reg);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_named_counters() {
        let m = SelfMetrics::new();
        m.receiver("otlp", "grpc", Signal::Traces).accepted.inc_by(3);
        m.exporter("otlp/backend", Signal::Logs).sent.inc_by(2);
        let text = m.render();
        assert!(
            text.contains("aiotel_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"grpc\"} 3"),
            "{text}"
        );
        assert!(text.contains("aiotel_exporter_sent_log_records_total{exporter=\"otlp/backend\"} 2"), "{text}");
        assert!(text.contains("aiotel_process_memory_rss_bytes"));
    }
}
