//! A worker's map from connection id (what JS names a socket by) to its slab key.
//!
//! Every command and every staged event looks an id up here, and every open
//! connection keeps an entry, so both the hash and the entry are kept small:
//! ids are chosen by the engine or by JS, never by a peer, so they need no
//! DoS-resistant hash, and a slab key fits in 32 bits.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default)]
pub struct ConnIds {
    map: HashMap<u32, u32, BuildHasherDefault<IdHasher>>,
}

impl ConnIds {
    pub fn insert(&mut self, id: u32, key: usize) {
        self.map.insert(id, u32::try_from(key).expect("slab key past u32"));
    }

    pub fn get(&self, id: u32) -> Option<usize> {
        self.map.get(&id).map(|&key| key as usize)
    }

    pub fn contains(&self, id: u32) -> bool {
        self.map.contains_key(&id)
    }

    pub fn remove(&mut self, id: u32) {
        self.map.remove(&id);
    }
}

/// One multiply (Fibonacci hashing): ids are mostly consecutive, and the
/// product spreads them over both the low bits (bucket) and the high bits
/// (the control byte) the table uses.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, id: u32) {
        self.0 = u64::from(id).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::ConnIds;

    #[test]
    fn maps_ids_to_keys_and_forgets_them() {
        let mut ids = ConnIds::default();
        for id in 0..10_000u32 {
            ids.insert(id << 3 | 1, id as usize * 2);
        }
        assert_eq!(ids.get(5 << 3 | 1), Some(10));
        assert!(ids.contains(9_999 << 3 | 1));
        assert!(!ids.contains(5 << 3));
        ids.remove(5 << 3 | 1);
        assert_eq!(ids.get(5 << 3 | 1), None);
        assert_eq!(ids.get(6 << 3 | 1), Some(12));
    }
}
