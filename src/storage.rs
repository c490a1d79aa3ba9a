//! Key-value storage shared by everything the host runs, bounded in total size.

use crate::error::{Error, ErrorKind, Result};
use parking_lot::RwLock;
use std::collections::HashMap;

/// In-memory key-value storage; keys are UTF-8, values are bytes.
pub struct Storage {
    inner: RwLock<Inner>,
    max_bytes: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Vec<u8>>,
    bytes: u64,
}

fn entry_size(key: &str, value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64
}

impl Storage {
    /// Empty storage holding at most `max_bytes` of keys plus values.
    pub fn new(max_bytes: u64) -> Self {
        Self { inner: RwLock::new(Inner::default()), max_bytes }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Result<Vec<u8>> {
        self.inner
            .read()
            .map
            .get(key)
            .cloned()
            .ok_or_else(|| Error::new(ErrorKind::KeyNotFound, format!("no storage key \"{key}\"")))
    }

    /// Set `key` to `value`, replacing any earlier value; refused when the total would exceed the limit.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<()> {
        if key.is_empty() {
            return Err(Error::new(ErrorKind::InvalidArgument, "storage key is empty"));
        }
        let mut inner = self.inner.write();
        let old = inner.map.get(key).map_or(0, |v| entry_size(key, v));
        let new_total = inner.bytes - old + entry_size(key, value);
        if new_total > self.max_bytes {
            return Err(Error::new(
                ErrorKind::LimitReached,
                format!("storage limit of {} bytes reached (would hold {new_total})", self.max_bytes),
            ));
        }
        inner.bytes = new_total;
        inner.map.insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    /// Remove `key`.
    pub fn remove(&self, key: &str) -> Result<()> {
        let mut inner = self.inner.write();
        match inner.map.remove(key) {
            Some(v) => {
                inner.bytes -= entry_size(key, &v);
                Ok(())
            }
            None => Err(Error::new(ErrorKind::KeyNotFound, format!("no storage key \"{key}\""))),
        }
    }

    /// (keys, bytes) held.
    pub fn usage(&self) -> (usize, u64) {
        let inner = self.inner.read();
        (inner.map.len(), inner.bytes)
    }

    /// Drop everything (at host stop).
    pub fn clear(&self) {
        *self.inner.write() = Inner::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_replace_remove_and_limit() {
        let s = Storage::new(10);
        s.set("a", b"1234").unwrap();
        assert_eq!(s.get("a").unwrap(), b"1234");
        s.set("a", b"12345678").unwrap();
        assert_eq!(s.usage(), (1, 9));
        assert_eq!(s.set("b", b"12").unwrap_err().kind(), ErrorKind::LimitReached);
        assert_eq!(s.get("b").unwrap_err().kind(), ErrorKind::KeyNotFound);
        assert_eq!(s.set("", b"").unwrap_err().kind(), ErrorKind::InvalidArgument);
        s.remove("a").unwrap();
        assert_eq!(s.usage(), (0, 0));
        assert_eq!(s.remove("a").unwrap_err().kind(), ErrorKind::KeyNotFound);
    }
}
