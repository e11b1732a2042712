//! The local job queue: jobs wait in the store's redb file until the local server drains them.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use billing_core::ports::queue::{ChargeJob, JobQueue, QueueError};
use redb::{Database, ReadableTable, TableDefinition};

const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("charge_jobs");

/// A durable FIFO of charge jobs.
#[derive(Clone)]
pub struct LocalQueue {
    db: Arc<Database>,
}

fn unavailable<E: std::fmt::Display>(error: E) -> QueueError {
    QueueError::Unavailable(error.to_string())
}

impl LocalQueue {
    /// Opens (or creates) the queue file.
    pub fn open(path: &Path) -> Result<Self, QueueError> {
        // A queue's pages are written once and read once: a small cache (redb's default is
        // 1 GiB) keeps memory flat however many jobs pass through.
        let db = Database::builder()
            .set_cache_size(8 << 20)
            .create(path)
            .map_err(unavailable)?;
        let txn = db.begin_write().map_err(unavailable)?;
        txn.open_table(JOBS).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Removes and returns up to `max` jobs, oldest first.
    pub fn take(&self, max: usize) -> Result<Vec<ChargeJob>, QueueError> {
        let txn = self.db.begin_write().map_err(unavailable)?;
        let mut jobs = Vec::new();
        {
            let mut table = txn.open_table(JOBS).map_err(unavailable)?;
            for _ in 0..max {
                let Some((_, value)) = table.pop_first().map_err(unavailable)? else {
                    break;
                };
                jobs.push(serde_json::from_slice(value.value()).map_err(unavailable)?);
            }
        }
        txn.commit().map_err(unavailable)?;
        Ok(jobs)
    }
}

#[async_trait]
impl JobQueue for LocalQueue {
    async fn enqueue(&self, jobs: &[ChargeJob]) -> Result<(), QueueError> {
        let txn = self.db.begin_write().map_err(unavailable)?;
        {
            let mut table = txn.open_table(JOBS).map_err(unavailable)?;
            let next = table
                .last()
                .map_err(unavailable)?
                .map_or(0, |(k, _)| k.value() + 1);
            for (sequence, job) in (next..).zip(jobs) {
                let bytes = serde_json::to_vec(job).map_err(unavailable)?;
                table
                    .insert(sequence, bytes.as_slice())
                    .map_err(unavailable)?;
            }
        }
        txn.commit().map_err(unavailable)
    }
}
