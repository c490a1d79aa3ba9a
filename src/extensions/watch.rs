//! Rescanning the extension folders when they change: a recursive `notify` watch on the search
//! paths and the store, and one thread, `plughost-ext-watch`, that rescans once the folders have
//! been quiet for the debounce time.

use crate::error::{Error, ErrorKind, Result};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

enum Message {
    Changed,
    Stop,
}

/// The watch of one host's extension folders.
pub(crate) struct ExtensionWatcher {
    _watcher: RecommendedWatcher,
    sender: mpsc::Sender<Message>,
    thread: Option<JoinHandle<()>>,
}

impl ExtensionWatcher {
    /// Watch `folders` (missing ones are created, so the store can be watched before its first
    /// install) and call `rescan` on the thread once they were quiet for `debounce` after a change.
    pub fn start(folders: &[PathBuf], debounce: Duration, rescan: Box<dyn Fn() + Send>) -> Result<Self> {
        let io = |what: String, e: &dyn std::fmt::Display| Error::new(ErrorKind::Io, format!("{what}: {e}"));
        let (sender, receiver) = mpsc::channel();
        let events = sender.clone();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| crate::modules::is_change(&e.kind)) {
                let _ = events.send(Message::Changed);
            }
        })
        .map_err(|e| io("cannot watch the extension folders".into(), &e))?;
        for folder in folders {
            std::fs::create_dir_all(folder).map_err(|e| io(format!("cannot create {}", folder.display()), &e))?;
            watcher
                .watch(folder, RecursiveMode::Recursive)
                .map_err(|e| io(format!("cannot watch {}", folder.display()), &e))?;
        }
        let thread = std::thread::Builder::new()
            .name("plughost-ext-watch".into())
            .spawn(move || {
                let mut due: Option<Instant> = None;
                loop {
                    let message = match due {
                        None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
                        Some(at) => receiver.recv_timeout(at.saturating_duration_since(Instant::now())),
                    };
                    match message {
                        Ok(Message::Changed) => due = Some(Instant::now() + debounce),
                        Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                        Err(RecvTimeoutError::Timeout) => {
                            due = None;
                            rescan();
                        }
                    }
                }
            })
            .map_err(|e| io("cannot start the extension watcher thread".into(), &e))?;
        tracing::info!(folders = folders.len(), "watching extension folders");
        Ok(ExtensionWatcher { _watcher: watcher, sender, thread: Some(thread) })
    }

    /// End the thread (waiting for a rescan in progress unless called on the thread itself).
    pub fn stop(mut self) {
        let _ = self.sender.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != std::thread::current().id() && thread.join().is_err() {
                tracing::error!("the extension watcher thread panicked");
            }
        }
    }
}

impl Drop for ExtensionWatcher {
    fn drop(&mut self) {
        let _ = self.sender.send(Message::Stop);
    }
}
