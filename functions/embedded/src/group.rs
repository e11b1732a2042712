//! Group commit: one writer thread takes every job waiting and applies them together, so a
//! group shares one redb write transaction and one fsync. The store and the simulated card
//! network use it for the writes that many workers make at once; the outbox, to write its
//! files from one thread.

use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

/// Most jobs one group takes.
const MAX_GROUP: usize = 256;

/// A job waiting for its group, and where its answer goes.
type Pending<J, R> = (J, oneshot::Sender<R>);

/// A writer thread and the queue into it. The thread lives as long as this does and is
/// joined on drop, so that the database it holds is closed by then (and can be opened again).
pub(crate) struct GroupWriter<J, R> {
    queue: Option<mpsc::Sender<Pending<J, R>>>,
    thread: Option<JoinHandle<()>>,
}

impl<J: Send + 'static, R: Send + 'static> GroupWriter<J, R> {
    /// Starts the thread. `apply` gets each group in arrival order and answers every job of
    /// it, in the same order.
    pub(crate) fn start(
        name: &str,
        apply: impl Fn(&[J]) -> Vec<R> + Send + 'static,
    ) -> std::io::Result<Self> {
        let (queue, pending) = mpsc::channel::<Pending<J, R>>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                while let Ok(first) = pending.recv() {
                    let mut jobs = vec![first.0];
                    let mut answers = vec![first.1];
                    while jobs.len() < MAX_GROUP {
                        let Ok((job, answer)) = pending.try_recv() else {
                            break;
                        };
                        jobs.push(job);
                        answers.push(answer);
                    }
                    let results = apply(&jobs);
                    debug_assert_eq!(results.len(), answers.len());
                    for (answer, result) in answers.into_iter().zip(results) {
                        // A caller that stopped waiting no longer needs its answer.
                        let _ = answer.send(result);
                    }
                }
            })?;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Queues `job` and waits for its group to be applied; `None` if the writer has stopped
    /// (it panicked).
    pub(crate) async fn submit(&self, job: J) -> Option<R> {
        let (answer, answered) = oneshot::channel();
        self.queue.as_ref()?.send((job, answer)).ok()?;
        answered.await.ok()
    }
}

impl<J, R> Drop for GroupWriter<J, R> {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop once it has answered what it holds.
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
