//! The model's queue and its runner threads: requests wait in a bounded queue; a runner takes
//! the queue, forms a batch of compatible requests (up to the model's max batch, waiting at
//! most its max delay), lets the queue go to the next runner, runs the batch on the engine,
//! splits the outputs back and answers each request. With several runners (the plan's
//! concurrent runs, [`crate::plan`]), one forms a batch while others compute.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::sync::oneshot;

use crate::engine::Engine;
use crate::error::{EngineError, InferError};
use crate::log::{log, now_ms};
use crate::metrics::Stats;
use crate::tensor::Tensor;

pub(crate) type Reply = oneshot::Sender<Result<Vec<Tensor>, InferError>>;

/// One validated request waiting in the queue.
pub(crate) struct Job {
    pub(crate) inputs: Vec<Tensor>,
    pub(crate) rows: usize,
    pub(crate) enqueued: Instant,
    pub(crate) reply: Reply,
}

/// Two requests can share a batch when every input agrees on all but the first dimension.
fn compatible(a: &Job, b: &Job) -> bool {
    a.inputs
        .iter()
        .zip(&b.inputs)
        .all(|(x, y)| x.shape.get(1..) == y.shape.get(1..))
}

/// A runner thread's loop: returns when the queue is closed and empty, or when the model's
/// runners were replaced (a newer `generation` than `mine` exists): it then answers the
/// request it holds, takes no other, and leaves.
pub(crate) fn worker<E: Engine>(
    engine: &E,
    queue: &Mutex<Receiver<Job>>,
    depth: &AtomicUsize,
    stats: &Mutex<Stats>,
    generation: &AtomicU64,
    mine: u64,
) {
    let info = Arc::clone(engine.info());
    let mut carry: Option<Job> = None;
    let retired = || generation.load(Ordering::SeqCst) > mine;
    loop {
        if retired() {
            if let Some(j) = carry.take() {
                let rows = j.rows;
                execute(engine, vec![j], rows, stats);
            }
            return;
        }
        // A runner holding a request that did not fit its last batch must not wait for the
        // queue: another runner may hold it, idle, until the next request comes. It takes
        // the queue if it is free, and otherwise runs that request alone.
        let rx = match (carry.take(), queue.try_lock()) {
            (Some(j), Err(std::sync::TryLockError::WouldBlock)) => {
                let rows = j.rows;
                execute(engine, vec![j], rows, stats);
                continue;
            }
            (c, Ok(g)) => {
                carry = c;
                g
            }
            (c, Err(std::sync::TryLockError::Poisoned(p))) => {
                carry = c;
                p.into_inner()
            }
            (None, Err(std::sync::TryLockError::WouldBlock)) => everybyte_core::par::lock(queue),
        };
        let first = match carry.take() {
            Some(j) => j,
            // Woken now and then to see whether it was replaced.
            None => loop {
                match rx.recv_timeout(std::time::Duration::from_millis(100)) {
                    Ok(j) => {
                        depth.fetch_sub(1, Ordering::Relaxed);
                        break j;
                    }
                    Err(RecvTimeoutError::Timeout) if retired() => return,
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            },
        };
        let mut rows = first.rows;
        let mut jobs = vec![first];
        let limit = if info.max_batch > 0 {
            info.batch_limit
        } else {
            0
        };
        if limit > 0 {
            let target = info
                .settings
                .preferred
                .iter()
                .copied()
                .filter(|&p| p <= limit)
                .max()
                .unwrap_or(limit);
            let deadline = jobs[0]
                .enqueued
                .checked_add(info.settings.max_delay)
                .unwrap_or_else(Instant::now);
            while rows < target {
                let next = if info.settings.max_delay.is_zero() {
                    rx.try_recv().ok()
                } else {
                    let left = deadline.saturating_duration_since(Instant::now());
                    rx.recv_timeout(left).ok()
                };
                let Some(j) = next else { break };
                depth.fetch_sub(1, Ordering::Relaxed);
                if compatible(&jobs[0], &j) && rows + j.rows <= limit {
                    rows += j.rows;
                    jobs.push(j);
                } else {
                    carry = Some(j);
                    break;
                }
            }
        }
        drop(rx);
        execute(engine, jobs, rows, stats);
    }
}

fn concat(jobs: &[Job], rows: usize) -> Vec<Tensor> {
    let first = &jobs[0].inputs;
    (0..first.len())
        .map(|i| {
            let len: usize = jobs.iter().map(|j| j.inputs[i].data.len()).sum();
            let mut data = BytesMut::with_capacity(len);
            for j in jobs {
                data.extend_from_slice(&j.inputs[i].data);
            }
            let mut shape = first[i].shape.clone();
            shape[0] = i64::try_from(rows).unwrap_or(i64::MAX);
            Tensor {
                name: first[i].name.clone(),
                datatype: first[i].datatype,
                shape,
                data: data.freeze(),
            }
        })
        .collect()
}

/// Splits batched outputs back along dimension 0, without copying.
fn split(outputs: &[Tensor], jobs: &[Job], rows: usize) -> Result<Vec<Vec<Tensor>>, EngineError> {
    let mut per_job: Vec<Vec<Tensor>> = jobs.iter().map(|_| Vec::new()).collect();
    for o in outputs {
        if o.shape.first().and_then(|&d| usize::try_from(d).ok()) != Some(rows) {
            return Err(EngineError::Unbatched {
                output: o.name.clone(),
                shape: o.shape.clone(),
                rows,
            });
        }
        let row_bytes = o.data.len() / rows.max(1);
        let mut at = 0;
        for (job, out) in jobs.iter().zip(per_job.iter_mut()) {
            let n = job.rows * row_bytes;
            let mut shape = o.shape.clone();
            shape[0] = i64::try_from(job.rows).unwrap_or(i64::MAX);
            out.push(Tensor {
                name: o.name.clone(),
                datatype: o.datatype,
                shape,
                data: o.data.slice(at..at + n),
            });
            at += n;
        }
    }
    Ok(per_job)
}

fn execute<E: Engine>(engine: &E, jobs: Vec<Job>, rows: usize, stats: &Mutex<Stats>) {
    let started = Instant::now();
    let queue_times: Vec<Duration> = jobs
        .iter()
        .map(|j| started.saturating_duration_since(j.enqueued))
        .collect();
    let batched = jobs.len() > 1;
    let t0 = Instant::now();
    let inputs = if batched {
        concat(&jobs, rows)
    } else {
        Vec::new()
    };
    let t_input = t0.elapsed();
    let t1 = Instant::now();
    let result = if batched {
        engine.run(&inputs)
    } else {
        engine.run(&jobs[0].inputs)
    };
    let t_infer = t1.elapsed();
    let t2 = Instant::now();
    let results: Result<Vec<Vec<Tensor>>, EngineError> = match result {
        Ok(outputs) if batched => split(&outputs, &jobs, rows),
        Ok(outputs) => Ok(vec![outputs]),
        Err(e) => Err(e),
    };
    let t_output = t2.elapsed();
    {
        let mut s = everybyte_core::par::lock(stats);
        s.last_inference_ms = now_ms();
        s.execution_count += 1;
        s.inference_count += rows as u64;
        let n = jobs.len() as u64;
        for q in &queue_times {
            s.queue.add(*q, 1);
            s.queue_seconds.observe(q.as_secs_f64());
        }
        s.compute_input.add(t_input, n);
        s.compute_infer.add(t_infer, n);
        s.compute_output.add(t_output, n);
        s.compute_seconds
            .observe((t_input + t_infer + t_output).as_secs_f64());
        s.batch_size.observe(rows as f64);
        let b = s.batches.entry(rows).or_default();
        b.input.add(t_input, 1);
        b.infer.add(t_infer, 1);
        b.output.add(t_output, 1);
    }
    match results {
        Ok(per_job) => {
            for (job, out) in jobs.into_iter().zip(per_job) {
                let _ = job.reply.send(Ok(out));
            }
        }
        Err(e) => {
            let e = e.to_string();
            log("error", "inference_failed", &[("error", e.clone().into())]);
            for job in jobs {
                let _ = job.reply.send(Err(InferError::internal(e.clone())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{DataType, element_count};
    use bytes::Bytes;

    fn t(name: &str, dt: DataType, shape: &[i64]) -> Tensor {
        let n = element_count(shape).unwrap() * dt.size().unwrap();
        Tensor {
            name: name.into(),
            datatype: dt,
            shape: shape.to_vec(),
            data: Bytes::from(vec![0u8; n]),
        }
    }

    #[test]
    fn batches_split_back_along_the_first_dimension() {
        let (tx, _rx) = oneshot::channel();
        let (tx2, _rx2) = oneshot::channel();
        let job = |rows: usize, reply| Job {
            inputs: vec![t("ids", DataType::I64, &[i64::try_from(rows).unwrap(), 3])],
            rows,
            enqueued: Instant::now(),
            reply,
        };
        let jobs = vec![job(1, tx), job(2, tx2)];
        assert!(compatible(&jobs[0], &jobs[1]));
        let merged = concat(&jobs, 3);
        assert_eq!(merged[0].shape, [3, 3]);
        assert_eq!(merged[0].data.len(), 72);
        let out = Tensor {
            name: "emb".into(),
            datatype: DataType::F32,
            shape: vec![3, 4],
            data: Bytes::from((0u8..48).collect::<Vec<_>>()),
        };
        let parts = split(std::slice::from_ref(&out), &jobs, 3).unwrap();
        assert_eq!(parts[0][0].shape, [1, 4]);
        assert_eq!(&parts[0][0].data[..], &(0u8..16).collect::<Vec<_>>()[..]);
        assert_eq!(parts[1][0].shape, [2, 4]);
        assert_eq!(&parts[1][0].data[..], &(16u8..48).collect::<Vec<_>>()[..]);
        let bad = Tensor {
            shape: vec![1, 4],
            ..out
        };
        assert!(
            split(&[bad], &jobs, 3)
                .unwrap_err()
                .to_string()
                .contains("cannot be batched")
        );
    }
}
