//! [`LocalCluster`]: the three parties on three long-lived threads of this process, each
//! with its own [`Session`], running one job after another. Benchmarks and the CLI use it
//! to time protocol calls without paying for session start-up each time.
//!
//! Its layer (the book's "Architecture" page): it may import only from `serve`, `nn`, `dsl`,
//! `protocol`, `session`, `net`, `prg`, `share`, `tensor`, `ring`, `error`, `party`,
//! `shape` and `tag`.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::net::Transport;
use crate::net::local::LocalTransport;
use crate::party::Role;
use crate::session::{Session, SessionConfig};

/// A job for one party: runs on its thread with its session.
type Job = Box<dyn FnOnce(&Session) + Send>;

/// Three parties in one process with persistent sessions.
///
/// # Examples
///
/// ```
/// use securenn_dsl::cluster::LocalCluster;
/// use securenn_dsl::session::SessionConfig;
///
/// let cluster = LocalCluster::start(&SessionConfig::default())?;
/// for _ in 0..3 {
///     let roles = cluster.run(async |session| Ok(session.role().index()))?;
///     assert_eq!(roles, [0, 1, 2]);
/// }
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
#[derive(Debug)]
pub struct LocalCluster {
    jobs: Vec<mpsc::Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
    /// Set when a job failed: the sessions may disagree on the next call number.
    failed: Mutex<Option<Error>>,
}

impl LocalCluster {
    /// Starts the three parties and their sessions.
    ///
    /// # Errors
    ///
    /// Whatever session start returns (key agreement), or [`Error::PartyThread`] if a thread
    /// cannot be spawned.
    pub fn start(config: &SessionConfig) -> Result<LocalCluster> {
        let mut jobs = Vec::new();
        let mut threads = Vec::new();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        for transport in LocalTransport::triple(&config.net) {
            let (job_tx, job_rx) = mpsc::channel::<Job>();
            let ready = ready_tx.clone();
            let config = config.clone();
            let role = transport.role();
            let thread = std::thread::Builder::new()
                .name(format!("securenn-{role}"))
                .spawn(move || {
                    let session =
                        match futures::executor::block_on(Session::start(transport, &config)) {
                            Ok(session) => {
                                let _ = ready.send(Ok(()));
                                session
                            }
                            Err(error) => {
                                let _ = ready.send(Err(error));
                                return;
                            }
                        };
                    while let Ok(job) = job_rx.recv() {
                        job(&session);
                    }
                })
                .map_err(|_| Error::PartyThread {
                    what: "cannot be spawned",
                })?;
            jobs.push(job_tx);
            threads.push(thread);
        }
        drop(ready_tx);
        for _ in Role::ALL {
            ready_rx.recv().map_err(|_| Error::PartyThread {
                what: "ended during start-up",
            })??;
        }
        Ok(LocalCluster {
            jobs,
            threads,
            failed: Mutex::new(None),
        })
    }

    /// Runs `job` at the three parties and returns their results in role order.
    ///
    /// # Errors
    ///
    /// The root-cause error if any party fails; after a failure every later `run` returns
    /// that error too, since the sessions may no longer agree on call numbers.
    pub fn run<T, F>(&self, job: F) -> Result<[T; 3]>
    where
        T: Send + 'static,
        F: AsyncFn(&Session) -> Result<T> + Send + Sync + 'static,
    {
        if let Some(error) = self
            .failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Err(error);
        }
        let job = Arc::new(job);
        let (result_tx, result_rx) = mpsc::channel::<(usize, Result<T>)>();
        for (index, jobs) in self.jobs.iter().enumerate() {
            let job = Arc::clone(&job);
            let results = result_tx.clone();
            let task: Job = Box::new(move |session: &Session| {
                let result = futures::executor::block_on(job(session));
                let _ = results.send((index, result));
            });
            jobs.send(task)
                .map_err(|_| Error::PartyThread { what: "has ended" })?;
        }
        drop(result_tx);
        let mut results: [Option<Result<T>>; 3] = [None, None, None];
        for _ in Role::ALL {
            let (index, result) = result_rx.recv().map_err(|_| Error::PartyThread {
                what: "ended during a job (did it panic?)",
            })?;
            results[index] = Some(result);
        }
        let results: Vec<Result<T>> = results
            .into_iter()
            .map(|r| r.unwrap_or(Err(Error::Internal("a party returned no result"))))
            .collect();
        let root = results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .find(|e| !e.is_peer_closed())
            .or_else(|| results.iter().find_map(|r| r.as_ref().err()))
            .cloned();
        if let Some(error) = root {
            *self.failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(error.clone());
            return Err(error);
        }
        let values: Vec<T> = results.into_iter().filter_map(Result::ok).collect();
        values
            .try_into()
            .map_err(|_| Error::Internal("three parties gave other than three results"))
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.jobs.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
