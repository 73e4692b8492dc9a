//! Measuring mounts without ever hanging the sample.
//!
//! `statvfs` on a dead network mount can block forever (psutil#1931). Like `node_exporter`'s
//! stuck-mount watchdog, calls on mounts that can hang run on a worker thread and the collector
//! waits at most the per-mount timeout for each answer. Mounts that cannot hang (a local
//! filesystem answers `statvfs` from its in-memory superblock, without I/O) are asked directly:
//! a thread hop costs more than the call itself. A mount that does not answer in time is reported as
//! [`MountErrorKind::Timeout`]; the worker stuck on it is abandoned (it exits once the call
//! returns) and a fresh one serves the next mounts. Until the stuck call returns, that mount is
//! reported as [`MountErrorKind::Stuck`] and no new call is issued on it, so hung mounts never
//! pile up threads.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::fsstat::{FsStat, FsUsage};
use crate::metrics::MountErrorKind;

type Job = Vec<(usize, PathBuf)>;
type Answer = (usize, io::Result<FsUsage>);

/// The result of measuring one mount.
#[derive(Debug)]
pub(crate) enum Outcome {
    Usage(FsUsage),
    Failed(MountErrorKind, String),
}

struct Worker {
    jobs: Sender<Job>,
    answers: Receiver<Answer>,
    /// Set when the worker is given up on: it then starts no further call of its job (those
    /// mounts have been handed to a fresh worker).
    abandoned: Arc<AtomicBool>,
}

/// Runs `statvfs` calls with a per-mount timeout.
pub(crate) struct DiskProbe {
    fs: Arc<dyn FsStat>,
    timeout: Option<Duration>,
    worker: Option<Worker>,
    /// Mount points with `statvfs` calls started and not returned yet, and how many.
    in_flight: Arc<Mutex<HashMap<PathBuf, usize>>>,
    /// Workers abandoned because a call hung (for the sample's diagnostics).
    abandoned: u64,
}

impl std::fmt::Debug for DiskProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskProbe")
            .field("timeout", &self.timeout)
            .field("abandoned", &self.abandoned)
            .finish_non_exhaustive()
    }
}

impl DiskProbe {
    pub(crate) fn new(fs: Arc<dyn FsStat>, timeout: Option<Duration>) -> Self {
        DiskProbe {
            fs,
            timeout,
            worker: None,
            in_flight: Arc::new(Mutex::new(HashMap::new())),
            abandoned: 0,
        }
    }

    /// Number of worker threads abandoned so far because a `statvfs` call hung.
    pub(crate) fn abandoned_workers(&self) -> u64 {
        self.abandoned
    }

    fn spawn_worker(&self) -> io::Result<Worker> {
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let (answer_tx, answer_rx) = mpsc::channel::<Answer>();
        let fs = Arc::clone(&self.fs);
        let in_flight = Arc::clone(&self.in_flight);
        let abandoned = Arc::new(AtomicBool::new(false));
        let given_up = Arc::clone(&abandoned);
        std::thread::Builder::new()
            .name("ops-metrics-statvfs".into())
            .spawn(move || {
                while let Ok(job) = job_rx.recv() {
                    for (index, path) in job {
                        if given_up.load(Ordering::Acquire) {
                            return;
                        }
                        *lock(&in_flight).entry(path.clone()).or_insert(0) += 1;
                        let answer = fs.stat(&path);
                        {
                            let mut in_flight = lock(&in_flight);
                            if let Some(n) = in_flight.get_mut(&path) {
                                *n -= 1;
                                if *n == 0 {
                                    in_flight.remove(&path);
                                }
                            }
                        }
                        if answer_tx.send((index, answer)).is_err() {
                            return;
                        }
                    }
                }
            })?;
        Ok(Worker {
            jobs: job_tx,
            answers: answer_rx,
            abandoned,
        })
    }

    /// Measures every path; `out[i]` answers `paths[i]`. Paths whose flag is `true` can hang
    /// and are asked under the timeout; the others are asked on this thread.
    pub(crate) fn measure(&mut self, paths: &[(PathBuf, bool)], out: &mut Vec<Outcome>) {
        out.clear();
        let timeout = match self.timeout {
            Some(t) if paths.iter().any(|(_, timed)| *timed) => t,
            _ => {
                out.extend(paths.iter().map(|(p, _)| outcome(self.fs.stat(p))));
                return;
            }
        };
        let mut results: Vec<Option<Outcome>> = paths.iter().map(|_| None).collect();
        // Mounts still stuck in an abandoned call are not asked again.
        let mut pending: Vec<(usize, PathBuf)> = Vec::with_capacity(paths.len());
        {
            let in_flight = lock(&self.in_flight);
            for (i, (p, timed)) in paths.iter().enumerate() {
                if !timed {
                    results[i] = Some(outcome(self.fs.stat(p)));
                } else if in_flight.contains_key(p) {
                    results[i] = Some(Outcome::Failed(
                        MountErrorKind::Stuck,
                        "an earlier statvfs on this mount has not returned yet".to_owned(),
                    ));
                } else {
                    pending.push((i, p.clone()));
                }
            }
        }
        while !pending.is_empty() {
            let worker = match self.worker.take() {
                Some(w) => w,
                None => match self.spawn_worker() {
                    Ok(w) => w,
                    Err(e) => {
                        let message = format!("cannot start the statvfs worker: {e}");
                        for (i, _) in pending.drain(..) {
                            results[i] = Some(Outcome::Failed(MountErrorKind::Io, message.clone()));
                        }
                        break;
                    }
                },
            };
            let order: Vec<usize> = pending.iter().map(|(i, _)| *i).collect();
            if worker.jobs.send(std::mem::take(&mut pending)).is_err() {
                // The worker died (a panicking FsStat): start another for the same mounts.
                pending = order.iter().map(|&i| (i, paths[i].0.clone())).collect();
                self.abandoned += 1;
                continue;
            }
            let mut healthy = true;
            for (k, &i) in order.iter().enumerate() {
                match worker.answers.recv_timeout(timeout) {
                    Ok((index, answer)) => results[index] = Some(outcome(answer)),
                    Err(e) => {
                        // This mount fails; the ones after it go to a new worker.
                        let (kind, reason) = match e {
                            RecvTimeoutError::Timeout => (
                                MountErrorKind::Timeout,
                                format!("statvfs did not answer within {timeout:?}"),
                            ),
                            RecvTimeoutError::Disconnected => (
                                MountErrorKind::Io,
                                "the statvfs worker stopped (the FsStat implementation panicked)"
                                    .to_owned(),
                            ),
                        };
                        results[i] = Some(Outcome::Failed(kind, reason));
                        pending = order[k + 1..]
                            .iter()
                            .map(|&j| (j, paths[j].0.clone()))
                            .collect();
                        healthy = false;
                        break;
                    }
                }
            }
            if healthy {
                self.worker = Some(worker);
            } else {
                // The flag stops it before any further call (its remaining mounts are asked by
                // a fresh worker); dropping our ends lets it exit once the stuck call returns.
                worker.abandoned.store(true, Ordering::Release);
                self.abandoned += 1;
            }
        }
        out.extend(results.into_iter().map(|r| {
            r.unwrap_or(Outcome::Failed(
                MountErrorKind::Io,
                "not measured".to_owned(),
            ))
        }));
    }
}

fn outcome(answer: io::Result<FsUsage>) -> Outcome {
    match answer {
        Ok(usage) => Outcome::Usage(usage),
        Err(e) => Outcome::Failed(MountErrorKind::Io, e.to_string()),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
