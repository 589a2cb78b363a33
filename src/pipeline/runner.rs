use aiotel_api::{Batch, Processor};
use tokio::time::Instant;

use super::Fanout;

/// Runs one pipeline: takes batches from its input queue, passes them
/// through its processors in order and hands the results to its exporters.
/// Returns once the input is closed and everything held has been flushed.
pub async fn run(input: async_channel::Receiver<Batch>, mut processors: Vec<Box<dyn Processor>>, out: Fanout) {
    let mut stage_buf: Vec<Batch> = Vec::new();
    loop {
        let deadline = processors.iter().filter_map(|p| p.next_deadline()).min();
        let batch = match deadline {
            Some(d) => tokio::select! {
                b = input.recv() => b.ok(),
                _ = tokio::time::sleep_until(Instant::from_std(d)) => {
                    let now = std::time::Instant::now();
                    for i in 0..processors.len() {
                        processors[i].on_deadline(now, &mut stage_buf);
                        let ready = std::mem::take(&mut stage_buf);
                        dispatch(&mut processors[i + 1..], ready, &out).await;
                    }
                    continue;
                }
            },
            None => input.recv().await.ok(),
        };
        match batch {
            Some(b) => dispatch(&mut processors, vec![b], &out).await,
            None => break,
        }
    }
    // Drain upstream-first: each processor's held data flows through the rest.
    for i in 0..processors.len() {
        processors[i].flush(&mut stage_buf);
        let ready = std::mem::take(&mut stage_buf);
        dispatch(&mut processors[i + 1..], ready, &out).await;
    }
}

async fn dispatch(processors: &mut [Box<dyn Processor>], mut batches: Vec<Batch>, out: &Fanout) {
    let mut next = Vec::new();
    for p in processors.iter_mut() {
        for b in batches.drain(..) {
            p.process(b, &mut next);
        }
        std::mem::swap(&mut batches, &mut next);
        if batches.is_empty() {
            return;
        }
    }
    for b in batches {
        if b.payload.is_empty() {
            b.ok();
        } else {
            out.consume(b).await;
        }
    }
}
