//! argon2 off the caller's thread. Password hashing costs tens of
//! milliseconds of CPU by design; run inline on an async executor's worker
//! it stalls every other request that worker serves. So every hash and
//! verification (including the dummy one for unknown accounts) runs on a
//! small pool of dedicated threads with a bounded queue: when the queue is
//! full the call answers [`Error::Busy`] at once instead of piling up
//! work without bound. The pool needs no particular async runtime.

use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use iamkit_credentials::{NewPassword, Password, PasswordCheck, PasswordHash, PasswordHasher};

use crate::error::{Error, Result};
use crate::iam::os_rng;

/// Size of the hashing pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingConfig {
    /// Threads that run argon2 (default: half the machine's parallelism,
    /// at least one: a burst of sign-ins then leaves the other half to
    /// the requests the service is serving; see the `load` bench).
    pub workers: NonZeroUsize,
    /// Hashes that may wait for a thread; one more answers
    /// [`Error::Busy`] (default: 8 per worker).
    pub queue: usize,
}

impl Default for HashingConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let workers = NonZeroUsize::new(cores / 2).unwrap_or(NonZeroUsize::MIN);
        Self {
            workers,
            queue: workers.get().saturating_mul(8),
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The threads and their queue. Dropping it closes the queue; the threads
/// finish the jobs already queued and end.
pub(crate) struct HashPool {
    hasher: PasswordHasher,
    jobs: SyncSender<Job>,
}

impl HashPool {
    pub(crate) fn new(hasher: PasswordHasher, config: HashingConfig) -> Result<Self> {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(config.queue);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..config.workers.get() {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("iamkit-argon2-{n}"))
                .spawn(move || work(&queue))
                .map_err(|_| Error::Internal)?;
        }
        Ok(Self { hasher, jobs })
    }

    /// Runs `job` on a pool thread.
    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (done, result) = futures_channel::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(job());
        });
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => Error::Busy,
            TrySendError::Disconnected(_) => Error::Internal,
        })?;
        result.await.map_err(|_| Error::Internal)
    }

    /// Verifies `password` against `stored` (`None`: against the dummy
    /// hash, same cost, always invalid; SECURITY.md 10).
    pub(crate) async fn verify(
        &self,
        password: &Password,
        stored: Option<PasswordHash>,
    ) -> Result<PasswordCheck> {
        let hasher = self.hasher.clone();
        let password = password.clone();
        self.run(move || hasher.verify(&password, stored.as_ref()))
            .await
    }

    /// Hashes, with the current parameters, a password that has just
    /// verified against an imported hash (no policy: see
    /// [`PasswordHasher::rehash_imported`]).
    pub(crate) async fn rehash_imported(&self, password: &Password) -> Result<PasswordHash> {
        let hasher = self.hasher.clone();
        let password = password.clone();
        self.run(move || hasher.rehash_imported(&password, &mut os_rng()))
            .await?
            .map_err(Error::from_credentials)
    }

    /// Hashes a password the policy accepted.
    pub(crate) async fn hash(&self, password: NewPassword) -> Result<PasswordHash> {
        let hasher = self.hasher.clone();
        self.run(move || hasher.hash(&password, &mut os_rng()))
            .await?
            .map_err(Error::from_credentials)
    }
}

/// A pool thread: runs jobs until the queue closes. A job that panics
/// loses its result (its caller gets `Internal`), not the thread.
fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        let job = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iamkit_credentials::Argon2Params;

    fn pool(workers: usize, queue: usize) -> HashPool {
        let hasher = PasswordHasher::new(Argon2Params {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        })
        .unwrap();
        let config = HashingConfig {
            workers: NonZeroUsize::new(workers).unwrap(),
            queue,
        };
        HashPool::new(hasher, config).unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn jobs_run_on_the_pool_threads_not_the_callers() {
        let pool = pool(1, 1);
        let name = pool
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("iamkit-argon2-0"));
        let hash = pool
            .hash(
                iamkit_credentials::PasswordPolicy::default()
                    .check(
                        Password::new("correct horse battery staple"),
                        &iamkit_credentials::PasswordContext::default(),
                    )
                    .unwrap(),
            )
            .await
            .unwrap();
        let right = pool
            .verify(&Password::new("correct horse battery staple"), Some(hash))
            .await
            .unwrap();
        assert!(matches!(right, PasswordCheck::Valid { .. }));
        let dummy = pool.verify(&Password::new("anything"), None).await.unwrap();
        assert!(matches!(dummy, PasswordCheck::Invalid));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_queue_answers_busy_at_once_and_drains() {
        let pool = Arc::new(pool(1, 1));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let (started, running) = futures_channel::oneshot::channel::<()>();
        // The only worker blocks until released; one more job waits.
        let first = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = started.send(());
                    gate.recv().is_ok()
                })
                .await
            })
        };
        running.await.unwrap();
        let second = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move { pool.run(|| 2).await })
        };
        tokio::task::yield_now().await;
        // The queue is full: the next caller is told at once.
        assert!(matches!(pool.run(|| 3).await, Err(Error::Busy)));
        release.send(()).unwrap();
        assert!(first.await.unwrap().unwrap());
        assert_eq!(second.await.unwrap().unwrap(), 2);
        assert_eq!(pool.run(|| 4).await.unwrap(), 4, "room again");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_job_that_panics_loses_its_result_not_the_thread() {
        let pool = pool(1, 1);
        let lost = pool.run(|| -> u8 { panic!("a broken job") }).await;
        assert!(matches!(lost, Err(Error::Internal)));
        assert_eq!(pool.run(|| 5).await.unwrap(), 5);
    }
}
