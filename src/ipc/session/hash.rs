//! The hash of the session's own tables (calls in flight by id, services by name): a
//! multiplication per word, much cheaper than the standard library's SipHash.
//!
//! Only this side inserts keys into these tables; the peer's messages only look keys up, so a
//! peer cannot crowd a table with colliding keys, which is what SipHash's keyed hashing guards
//! against.

use std::hash::{BuildHasherDefault, Hasher};

/// Builds [`FastHasher`]s.
pub type FastHash = BuildHasherDefault<FastHasher>;

/// Spreads each word over the high bits (which the table's probing uses) by a multiplication.
#[derive(Default)]
pub struct FastHasher(u64);

/// 2^64 divided by the golden ratio, odd.
const SPREAD: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.mix(u64::from(b));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.mix(word);
    }
}

impl FastHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(8) ^ word).wrapping_mul(SPREAD);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn sequential_ids_and_names_spread_and_round_trip() {
        let mut ids: HashMap<u64, u64, FastHash> = HashMap::default();
        for id in 0..10_000u64 {
            ids.insert(id, id * 2);
        }
        assert!((0..10_000u64).all(|id| ids.get(&id) == Some(&(id * 2))));
        let mut names: HashMap<String, usize, FastHash> = HashMap::default();
        for i in 0..1000 {
            names.insert(format!("service{i}"), i);
        }
        assert_eq!(names.get("service417"), Some(&417));
        assert_eq!(names.get("service1000"), None);
    }
}
