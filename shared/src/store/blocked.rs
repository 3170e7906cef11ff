//! The pairs (client id, source address) the failed-authentication throttle
//! ([`crate::oauth::throttle`]) has found over the limit, remembered in this process so their
//! failures are answered from memory rather than by another counter write.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::UnixTime;

/// Most pairs a process remembers as over the limit ([`Blocked`]).
pub const MAX_BLOCKED: usize = 10_000;

/// Pairs over the limit in this process, each until its window ends. At most
/// [`MAX_BLOCKED`]: when full, expired pairs go first, then the one whose window ends
/// soonest (a pair forgotten early only costs a counter write again).
#[derive(Debug, Default)]
pub struct Blocked(Mutex<HashMap<String, UnixTime>>);

impl Blocked {
    /// When the block on `key` ends, if it is blocked at `now`.
    pub fn until(&self, key: &str, now: UnixTime) -> Option<UnixTime> {
        let map = self.0.lock().ok()?;
        map.get(key).copied().filter(|&end| end > now)
    }

    /// Blocks `key` until `end`.
    pub fn block(&self, key: String, end: UnixTime, now: UnixTime) {
        let Ok(mut map) = self.0.lock() else { return };
        if map.len() >= MAX_BLOCKED && !map.contains_key(&key) {
            map.retain(|_, &mut e| e > now);
            if map.len() >= MAX_BLOCKED {
                let soonest = map.iter().min_by_key(|(_, e)| **e).map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    map.remove(&k);
                }
            }
        }
        map.insert(key, end);
    }

    /// How many pairs are remembered, expired ones included until they are evicted.
    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_pairs_are_bounded_and_expired_ones_go_first() {
        let b = Blocked::default();
        for i in 0..MAX_BLOCKED {
            b.block(format!("old{i}"), 100, 0);
        }
        assert_eq!(b.len(), MAX_BLOCKED);
        assert_eq!(b.until("old1", 50), Some(100));
        assert_eq!(b.until("old1", 100), None);
        // Full, all expired: they all go.
        b.block("new".into(), 500, 200);
        assert_eq!(b.len(), 1);
        for i in 1..MAX_BLOCKED {
            b.block(format!("live{i}"), 1_000 + i as u64, 200);
        }
        // Full, none expired: the pair whose window ends soonest goes.
        b.block("newest".into(), 2_000, 200);
        assert_eq!(b.len(), MAX_BLOCKED);
        assert_eq!(b.until("new", 200), None);
        assert_eq!(b.until("live1", 200), Some(1_001));
        assert_eq!(b.until("newest", 200), Some(2_000));
    }
}
