//! The event bus: publish and subscribe by topic, with a bounded history per topic.
//!
//! Delivery is synchronous on the publisher's thread, outside every lock, in subscription order.
//! A subscription to `"*"` receives every topic.

use crate::error::{Error, ErrorKind, Result};
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One published event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The topic.
    pub topic: String,
    /// Who published it: `host` or a module's name.
    pub source: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// A number that grows with every event of this bus.
    pub sequence: u64,
}

/// A subscriber callback.
pub type EventHandler = Arc<dyn Fn(&Event) + Send + Sync>;

struct Subscription {
    id: u64,
    topic: String,
    handler: EventHandler,
}

/// The bus of one host.
pub struct EventBus {
    subscriptions: RwLock<Vec<Arc<Subscription>>>,
    history: Mutex<HashMap<String, VecDeque<Event>>>,
    history_per_topic: usize,
    next_id: AtomicU64,
    sequence: AtomicU64,
}

impl EventBus {
    /// A bus keeping `history_per_topic` events per topic.
    pub fn new(history_per_topic: usize) -> Self {
        Self {
            subscriptions: RwLock::new(Vec::new()),
            history: Mutex::new(HashMap::new()),
            history_per_topic,
            next_id: AtomicU64::new(1),
            sequence: AtomicU64::new(1),
        }
    }

    /// Subscribe `handler` to `topic` (`"*"` = all); returns the subscription id.
    pub fn subscribe(&self, topic: &str, handler: EventHandler) -> Result<u64> {
        if topic.is_empty() {
            return Err(Error::new(ErrorKind::InvalidArgument, "topic is empty"));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.subscriptions.write().push(Arc::new(Subscription { id, topic: topic.to_owned(), handler }));
        Ok(id)
    }

    /// End a subscription; its handler is not called after this returns (except by a delivery
    /// already under way on another thread).
    pub fn unsubscribe(&self, id: u64) -> Result<()> {
        let mut subs = self.subscriptions.write();
        let before = subs.len();
        subs.retain(|s| s.id != id);
        if subs.len() == before {
            return Err(Error::new(ErrorKind::InvalidHandle, format!("no subscription {id}")));
        }
        Ok(())
    }

    /// Publish `payload` on `topic` from `source`; returns how many handlers received it.
    pub fn publish(&self, topic: &str, source: &str, payload: &[u8]) -> Result<usize> {
        if topic.is_empty() {
            return Err(Error::new(ErrorKind::InvalidArgument, "topic is empty"));
        }
        let event = Event {
            topic: topic.to_owned(),
            source: source.to_owned(),
            payload: payload.to_vec(),
            sequence: self.sequence.fetch_add(1, Ordering::Relaxed),
        };
        if self.history_per_topic > 0 {
            let mut history = self.history.lock();
            let queue = history.entry(topic.to_owned()).or_default();
            if queue.len() == self.history_per_topic {
                queue.pop_front();
            }
            queue.push_back(event.clone());
        }
        let targets: Vec<Arc<Subscription>> =
            self.subscriptions.read().iter().filter(|s| s.topic == "*" || s.topic == topic).cloned().collect();
        for sub in &targets {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (sub.handler)(&event))).is_err() {
                tracing::warn!(topic, subscription = sub.id, "event handler panicked");
            }
        }
        Ok(targets.len())
    }

    /// The kept events of `topic`, oldest first.
    pub fn history(&self, topic: &str) -> Vec<Event> {
        self.history.lock().get(topic).map(|q| q.iter().cloned().collect()).unwrap_or_default()
    }

    /// (subscriptions, topics with history).
    pub fn usage(&self) -> (usize, usize) {
        (self.subscriptions.read().len(), self.history.lock().len())
    }

    /// Drop every subscription and all history (at host stop).
    pub fn clear(&self) {
        self.subscriptions.write().clear();
        self.history.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_publish_history_unsubscribe() {
        let bus = EventBus::new(2);
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        let id = bus.subscribe("a", Arc::new(move |e: &Event| g.lock().push(e.payload.clone()))).unwrap();
        let all = bus.subscribe("*", Arc::new(|_: &Event| {})).unwrap();
        assert_eq!(bus.publish("a", "host", b"1").unwrap(), 2);
        assert_eq!(bus.publish("b", "host", b"x").unwrap(), 1);
        bus.publish("a", "m", b"2").unwrap();
        bus.publish("a", "m", b"3").unwrap();
        assert_eq!(*got.lock(), vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
        let h = bus.history("a");
        assert_eq!(h.iter().map(|e| e.payload.clone()).collect::<Vec<_>>(), vec![b"2".to_vec(), b"3".to_vec()]);
        assert!(h[0].sequence < h[1].sequence);
        bus.unsubscribe(id).unwrap();
        bus.unsubscribe(all).unwrap();
        assert_eq!(bus.publish("a", "host", b"4").unwrap(), 0);
        assert_eq!(bus.unsubscribe(id).unwrap_err().kind(), ErrorKind::InvalidHandle);
        assert_eq!(bus.publish("", "host", b"").unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
}
