//! Consumer-group membership made visible: every assignment and revocation
//! is logged and the owned partition count is a self-metric, so operators
//! (and tests) can see how a gateway tier shares its partitions.

use prometheus_client::metrics::gauge::Gauge;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::TopicPartitionList;

pub struct GroupContext {
    pub id: String,
    pub assigned: Gauge,
}

impl ClientContext for GroupContext {}

fn list(tpl: &TopicPartitionList) -> String {
    let mut parts: Vec<String> = tpl.elements().iter().map(|e| format!("{}[{}]", e.topic(), e.partition())).collect();
    parts.sort();
    parts.join(",")
}

impl ConsumerContext for GroupContext {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                self.assigned.set(tpl.count() as i64);
                tracing::info!(receiver = %self.id, count = tpl.count(), partitions = %list(tpl), "Kafka partitions assigned");
            }
            Rebalance::Revoke(tpl) => {
                self.assigned.set(0);
                tracing::info!(receiver = %self.id, partitions = %list(tpl), "Kafka partitions revoked");
            }
            Rebalance::Error(e) => tracing::warn!(receiver = %self.id, error = %e, "Kafka rebalance failed"),
        }
    }
}
