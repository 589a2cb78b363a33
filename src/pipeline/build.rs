use std::collections::BTreeMap;
use std::sync::Arc;

use aiotel_api::{Batch, Processor, ProcessorContext, Signal};
use tokio::task::JoinHandle;

use super::{runner, Consumer, Consumers, Fanout, Observer, OnFull, Shared};
use crate::components::ComponentId;
use crate::config::{Acknowledgements, Config, PipelineId};
use crate::exporters::{ExporterHandle, RunningExporter};
use crate::service::ServiceCtx;
use crate::telemetry::ComponentCounters;

/// The wired pipelines. Receivers get their outputs here but are started
/// by the service; nothing here keeps a sender, so queues close in order
/// as each upstream stage finishes.
pub struct Graph {
    pub receivers: Vec<(ComponentId, Consumers)>,
    /// Pipeline and connector tasks, by name.
    pub pipelines: Vec<(String, JoinHandle<()>)>,
    pub exporters: Vec<RunningExporter>,
}

pub fn build(cfg: &Config, ctx: &ServiceCtx) -> Result<Graph, String> {
    // 1. One bounded input queue per pipeline.
    let mut inputs: BTreeMap<PipelineId, (async_channel::Sender<Batch>, async_channel::Receiver<Batch>)> =
        BTreeMap::new();
    for id in cfg.pipelines.keys() {
        let (tx, rx) = async_channel::bounded(cfg.pipeline_queue_size);
        let probe = tx.clone().downgrade();
        ctx.metrics.queue(
            "pipeline",
            &id.to_string(),
            id.signal,
            cfg.pipeline_queue_size,
            Arc::new(move || probe.upgrade().map(|t| t.len()).unwrap_or(0)),
        );
        inputs.insert(id.clone(), (tx, rx));
    }
    let input_consumer = |p: &PipelineId, on_full: OnFull| {
        Consumer::new(inputs[p].0.clone(), on_full, false, ComponentCounters::default())
    };

    // 2. One exporter instance per (id, signal), shared by the pipelines of that signal.
    let mut exporters: BTreeMap<(ComponentId, Signal), ExporterHandle> = BTreeMap::new();
    for (pid, p) in &cfg.pipelines {
        for e in &p.exporters {
            if cfg.connectors.contains_key(e) || exporters.contains_key(&(e.clone(), pid.signal)) {
                continue;
            }
            let ecfg = cfg.exporters.get(e).ok_or_else(|| format!("exporter {e} is not configured"))?;
            let handle = ecfg.build(e, pid.signal, ctx).map_err(|m| format!("exporter {e}: {m}"))?;
            exporters.insert((e.clone(), pid.signal), handle);
        }
    }

    // 3. Connectors that transform run as tasks of their own, one per (id, from, to) signal pair.
    let mut pipelines = Vec::new();
    let mut connector_inputs: BTreeMap<(ComponentId, Signal, Signal), Consumer> = BTreeMap::new();
    let mut connector_observers: BTreeMap<(ComponentId, Signal, Signal), Observer> = BTreeMap::new();
    for (cid, conn) in &cfg.connectors {
        for from in Signal::ALL {
            for to in Signal::ALL {
                let feeds = cfg.pipelines.iter().any(|(p, c)| p.signal == from && c.exporters.contains(cid));
                let targets: Vec<Consumer> = cfg
                    .pipelines
                    .iter()
                    .filter(|(p, c)| p.signal == to && c.receivers.contains(cid))
                    .map(|(p, _)| input_consumer(p, OnFull::Block))
                    .collect();
                if !feeds || targets.is_empty() || !conn.supports(from, to) {
                    continue;
                }
                let Some(proc) = conn.build(from, to, ctx).map_err(|m| format!("connector {cid}: {m}"))? else {
                    continue;
                };
                let (tx, rx) = async_channel::bounded(cfg.pipeline_queue_size);
                let name = format!("{cid}/{from}->{to}");
                let probe = tx.clone().downgrade();
                ctx.metrics.queue(
                    "connector",
                    &name,
                    from,
                    cfg.pipeline_queue_size,
                    Arc::new(move || probe.upgrade().map(|t| t.len()).unwrap_or(0)),
                );
                let stats = runner::StatsSink {
                    metrics: ctx.metrics.clone(),
                    pipeline: name.clone(),
                    processor_ids: vec![cid.to_string()],
                };
                // A read-only connector is run inline by the pipelines feeding it, so
                // they need not copy each batch; its task only drives its timers.
                let proc: Box<dyn Processor> = if proc.observes() {
                    let shared = Arc::new(std::sync::Mutex::new(proc));
                    let observer = Observer { processor: shared.clone(), keep_open: tx };
                    connector_observers.insert((cid.clone(), from, to), observer);
                    Box::new(Shared(shared))
                } else {
                    let consumer = Consumer::new(tx, OnFull::Block, false, ComponentCounters::default());
                    connector_inputs.insert((cid.clone(), from, to), consumer);
                    proc
                };
                pipelines
                    .push((name, tokio::spawn(runner::run(rx, vec![proc], Fanout(targets, Vec::new()), stats, false))));
            }
        }
    }

    // 4. Each pipeline's outputs: exporters, and the pipelines its connectors feed.
    for (pid, p) in &cfg.pipelines {
        let mut outs = Vec::new();
        let mut observers = Vec::new();
        for e in &p.exporters {
            if let Some(conn) = cfg.connectors.get(e) {
                for (target, tp) in &cfg.pipelines {
                    if !tp.receivers.contains(e) || !conn.supports(pid.signal, target.signal) {
                        continue;
                    }
                    if let Some(o) = connector_observers.get(&(e.clone(), pid.signal, target.signal)) {
                        if !observers.iter().any(|x: &Observer| Arc::ptr_eq(&x.processor, &o.processor)) {
                            observers.push(o.clone());
                        }
                        continue;
                    }
                    match connector_inputs.get(&(e.clone(), pid.signal, target.signal)) {
                        // One queue per pair, however many pipelines it feeds.
                        Some(c) if !outs.iter().any(|o: &Consumer| o.same_queue(c)) => outs.push(c.clone()),
                        Some(_) => {}
                        None => outs.push(input_consumer(target, OnFull::Block)),
                    }
                }
            } else if let Some(h) = exporters.get(&(e.clone(), pid.signal)) {
                outs.push(h.consumer.clone());
            }
        }
        let mut procs = Vec::new();
        for pr in &p.processors {
            let pcfg = cfg.processors.get(pr).ok_or_else(|| format!("processor {pr} is not configured"))?;
            let pctx = ProcessorContext { id: pr.to_string(), pipeline: pid.to_string() };
            procs.push(pcfg.build(&pctx, ctx).map_err(|m| format!("processor {pr} in pipeline {pid}: {m}"))?);
        }
        let rx = inputs[pid].1.clone();
        let stats = runner::StatsSink {
            metrics: ctx.metrics.clone(),
            pipeline: pid.to_string(),
            processor_ids: p.processors.iter().map(|x| x.to_string()).collect(),
        };
        pipelines.push((
            pid.to_string(),
            tokio::spawn(runner::run(
                rx,
                procs,
                Fanout(outs, observers),
                stats,
                p.acknowledgements == Acknowledgements::Durable,
            )),
        ));
    }

    drop(connector_inputs);
    drop(connector_observers);
    // 5. Receivers feed the input queues of every pipeline that lists them; a full queue refuses.
    let mut receivers: BTreeMap<ComponentId, Consumers> = BTreeMap::new();
    for (pid, p) in &cfg.pipelines {
        for r in &p.receivers {
            if cfg.connectors.contains_key(r) {
                continue;
            }
            let slot = receivers.entry(r.clone()).or_default().slot(pid.signal);
            slot.get_or_insert_with(Fanout::default).0.push(input_consumer(pid, OnFull::Refuse));
        }
    }
    drop(inputs);
    let exporters = exporters.into_values().map(ExporterHandle::detach).collect();
    Ok(Graph { receivers: receivers.into_iter().collect(), pipelines, exporters })
}
