//! An instance of the service that the test can kill as `kill -9` would: it runs on a runtime
//! of its own, which is dropped with every task on it (open connections included) and no
//! shutdown code run.

use std::time::Duration;

use callbridge::config::Settings;
use callbridge::store::SharedStore;
use tokio::sync::oneshot;

pub struct Killable {
    kill: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Serves `settings` on `listener` with its own connections to `database_url`.
pub fn serve(settings: &Settings, database_url: &str, listener: std::net::TcpListener) -> Killable {
    let (kill, killed) = oneshot::channel::<()>();
    let settings = settings.clone();
    let url = database_url.to_owned();
    listener.set_nonblocking(true).unwrap();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let store: SharedStore = callbridge::store::open(&url).await.unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let serve = callbridge::startup::launch_with_store(
                settings,
                store,
                listener,
                std::future::pending(),
            );
            tokio::select! {
                _ = serve => {}
                _ = killed => {}
            }
        });
        runtime.shutdown_timeout(Duration::from_secs(1));
    });
    Killable {
        kill: Some(kill),
        thread: Some(thread),
    }
}

impl Killable {
    /// Stops the instance at once, in the middle of whatever it was doing.
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Killable {
    fn drop(&mut self) {
        self.stop();
    }
}
