//! Host services: the named services the embedding application registers, and the main-thread
//! rule for those that must run on its main thread.
//!
//! A service registered as main-thread runs inline when called on the main thread (including from
//! inside a module's execute on that thread). Called from any other thread, the call is queued, the
//! application's pump-request callback is told, and the caller waits until the main thread runs
//! the queue with `pump` or the configured timeout passes. Waits inside plughost that happen on the
//! main thread (draining a module during reload) pump the queue themselves, so a module executing on
//! a worker thread that calls a main-thread service cannot deadlock a reload made on the main thread.

mod main_thread;

pub use main_thread::MainThread;

use crate::error::{Error, ErrorKind, Result};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A service handler: input bytes to output bytes, or an error message.
pub type ServiceHandler = Arc<dyn Fn(&[u8]) -> std::result::Result<Vec<u8>, String> + Send + Sync>;

/// How a service must be called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceThreading {
    /// On whatever thread calls it; the handler must be thread-safe.
    AnyThread,
    /// Only on the host's main thread: calls from other threads are queued until pumped.
    MainThread,
}

struct Service {
    threading: ServiceThreading,
    handler: ServiceHandler,
    calls: AtomicU64,
    failures: AtomicU64,
}

/// The registry of services of one host.
pub struct ServiceRegistry {
    services: RwLock<HashMap<String, Arc<Service>>>,
    main_thread: MainThread,
}

/// A snapshot of one service for health.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ServiceStats {
    /// The service's name.
    pub name: String,
    /// Whether calls run on the main thread.
    pub main_thread: bool,
    /// Calls made.
    pub calls: u64,
    /// Calls that failed.
    pub failures: u64,
}

impl ServiceRegistry {
    /// An empty registry whose main-thread calls wait at most `main_thread_timeout`.
    pub fn new(main_thread_timeout: Duration) -> Self {
        Self { services: RwLock::new(HashMap::new()), main_thread: MainThread::new(main_thread_timeout) }
    }

    /// The main-thread queue.
    pub fn main_thread(&self) -> &MainThread {
        &self.main_thread
    }

    /// Register `handler` under `name`.
    pub fn register(&self, name: &str, threading: ServiceThreading, handler: ServiceHandler) -> Result<()> {
        if name.is_empty() {
            return Err(Error::new(ErrorKind::InvalidArgument, "service name is empty"));
        }
        let mut services = self.services.write();
        if services.contains_key(name) {
            return Err(Error::new(ErrorKind::ServiceExists, format!("service \"{name}\" is already registered")));
        }
        let service = Service { threading, handler, calls: AtomicU64::new(0), failures: AtomicU64::new(0) };
        services.insert(name.to_owned(), Arc::new(service));
        tracing::debug!(service = name, ?threading, "service registered");
        Ok(())
    }

    /// Remove the service. Calls in flight finish; the handler is dropped after the last one.
    pub fn unregister(&self, name: &str) -> Result<()> {
        match self.services.write().remove(name) {
            Some(_) => Ok(()),
            None => Err(Error::new(ErrorKind::ServiceNotFound, format!("no service named \"{name}\""))),
        }
    }

    /// Remove every service (at host stop).
    pub fn clear(&self) {
        self.services.write().clear();
    }

    /// Call the service `name` with `input`, honouring its threading rule.
    pub fn call(&self, name: &str, input: &[u8]) -> Result<Vec<u8>> {
        let service = self
            .services
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::new(ErrorKind::ServiceNotFound, format!("no service named \"{name}\"")))?;
        service.calls.fetch_add(1, Ordering::Relaxed);
        let handler = service.handler.clone();
        let result = match service.threading {
            ServiceThreading::AnyThread => run_handler(name, &handler, input),
            ServiceThreading::MainThread if self.main_thread.is_current() => run_handler(name, &handler, input),
            ServiceThreading::MainThread => {
                let owned_name = name.to_owned();
                let owned_input = input.to_vec();
                self.main_thread.submit(name, Box::new(move || run_handler(&owned_name, &handler, &owned_input)))
            }
        };
        if result.is_err() {
            service.failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Per-service counters, sorted by name.
    pub fn stats(&self) -> Vec<ServiceStats> {
        let mut stats: Vec<ServiceStats> = self
            .services
            .read()
            .iter()
            .map(|(name, s)| ServiceStats {
                name: name.clone(),
                main_thread: s.threading == ServiceThreading::MainThread,
                calls: s.calls.load(Ordering::Relaxed),
                failures: s.failures.load(Ordering::Relaxed),
            })
            .collect();
        stats.sort_by(|a, b| a.name.cmp(&b.name));
        stats
    }
}

fn run_handler(name: &str, handler: &ServiceHandler, input: &[u8]) -> Result<Vec<u8>> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(input))) {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(message)) => Err(Error::new(ErrorKind::ServiceFailed, message).context(format!("service \"{name}\""))),
        Err(_) => Err(Error::new(ErrorKind::ServiceFailed, format!("service \"{name}\" panicked"))),
    }
}

#[cfg(test)]
mod tests;
