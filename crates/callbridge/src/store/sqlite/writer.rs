//! A connection of its own thread, for the writes that come in bursts (status callbacks): a
//! whole transaction runs there in one call, where through the pool every statement is a round
//! trip to the connection's thread and back. Only one write may run at a time, so a caller
//! holds the pool's writer connection for the length of the call (see `callback.rs`): the two
//! connections never meet on SQLite's lock.

use std::path::Path;
use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::native::{self, Role};
use crate::store::{StoreError, StoreResult};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

enum Message {
    Run(Job),
    /// Closes the connection and ends the thread, then says so.
    Close(oneshot::Sender<()>),
}

/// The way to the thread; the thread ends, closing its connection, once it is closed or every
/// clone is dropped.
#[derive(Debug, Clone)]
pub(super) struct WriterThread {
    jobs: mpsc::Sender<Message>,
}

impl WriterThread {
    /// Opens `filename` (a path, or the name of a shared in-memory database when `in_memory`)
    /// on a new thread, with the settings the pool's connections have.
    pub(super) async fn open(filename: &Path, in_memory: bool) -> StoreResult<Self> {
        let filename = filename.to_owned();
        let (jobs, queue) = mpsc::channel::<Message>();
        let (opened, open) = oneshot::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(
                move || match native::open(&filename, in_memory, Role::Writer) {
                    Ok(conn) => {
                        let _ = opened.send(Ok(()));
                        serve(conn, &queue);
                    }
                    Err(err) => {
                        let _ = opened.send(Err(err));
                    }
                },
            )
            .map_err(|err| StoreError::Unavailable(sqlx::Error::Io(err)))?;
        open.await.map_err(|_| stopped())??;
        Ok(Self { jobs })
    }

    /// Runs `work` on the connection and answers what it returns.
    pub(super) async fn run<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(work(conn));
        });
        self.jobs.send(Message::Run(job)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Closes the connection once the work sent before is done; work sent after fails.
    pub(super) async fn close(&self) {
        let (closed, done) = oneshot::channel();
        if self.jobs.send(Message::Close(closed)).is_ok() {
            let _ = done.await;
        }
    }
}

fn serve(mut conn: Connection, queue: &mpsc::Receiver<Message>) {
    for message in queue {
        match message {
            Message::Run(job) => job(&mut conn),
            Message::Close(closed) => {
                drop(conn);
                let _ = closed.send(());
                return;
            }
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable(sqlx::Error::WorkerCrashed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_after_closing_is_unavailable() {
        let name = format!("file:writer-test-{}", uuid::Uuid::new_v4());
        let writer = WriterThread::open(Path::new(&name), true).await.unwrap();
        assert_eq!(writer.run(|_| Ok(1)).await.unwrap(), 1);
        writer.close().await;
        let err = writer.run(|_| Ok(2)).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_opened_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-directory").join("db");
        let err = WriterThread::open(&missing, false).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }
}
