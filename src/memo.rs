//! A bounded memo of JSON made from JSON text, for work a session repeats
//! with every request. codexd keeps one: the tool schemas it has normalized
//! (`translate::schema`), by the exact text the client sent.
//!
//! Claude Code sends the same tools, about 36 KB of schemas and
//! descriptions, with every request; normalizing them anew each time was
//! most of what preparing a request cost (README, Performance). A memo
//! holds only text, so what it weighs is what it holds: each entry counts
//! its key, its value and a fixed allowance for the map slot, the `Arc` and
//! the two allocations' headers. An insertion that would go over the budget
//! empties the memo first; the next request fills it again with what its
//! session still uses.
//!
//! A memo is one per process, shared by all worker threads, behind a lock
//! held only to look up or insert, never while the value is made. It caches
//! a pure function: what it returns is byte for byte what making the value
//! anew returns (tested where it is used).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::json::RawJson;

/// Bytes counted per entry beyond its texts: a map slot (a `Box<str>` key
/// and an `Arc` value, 32 bytes, at a load factor of 7/8), the `Arc`'s two
/// counters and length, and the allocator's headers of both allocations,
/// rounded up.
pub const ENTRY_OVERHEAD: usize = 96;

/// JSON made from JSON text, remembered by that text, holding at most
/// `budget` bytes as weighed above.
pub struct TextMemo {
    budget: usize,
    entries: Mutex<Option<Entries>>,
}

struct Entries {
    map: HashMap<Box<str>, RawJson, foldhash::fast::RandomState>,
    bytes: usize,
}

impl TextMemo {
    /// An empty memo; for a `static`.
    pub const fn new(budget: usize) -> Self {
        TextMemo { budget, entries: Mutex::new(None) }
    }

    /// What `make` made of `key` before, or what it makes now (remembered
    /// if it fits the budget). The lock is not held while making.
    pub fn get_or_make(&self, key: &str, make: impl FnOnce(&str) -> RawJson) -> RawJson {
        if let Some(value) = self.with(|entries| entries.map.get(key).cloned()) {
            return value;
        }
        let value = make(key);
        self.insert(key, value.clone());
        value
    }

    fn insert(&self, key: &str, value: RawJson) {
        let weight = weigh(key, &value);
        if weight > self.budget {
            return;
        }
        self.with(|entries| {
            if entries.map.contains_key(key) {
                return;
            }
            if entries.bytes + weight > self.budget {
                entries.map.clear();
                entries.bytes = 0;
            }
            entries.map.insert(key.into(), value);
            entries.bytes += weight;
        });
    }

    /// Bytes held, as weighed against the budget.
    pub fn bytes(&self) -> usize {
        self.with(|entries| entries.bytes)
    }

    pub fn len(&self) -> usize {
        self.with(|entries| entries.map.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Run `f` holding the lock. A thread that panicked holding it cannot
    /// have left the map half-changed in a way that matters (entries are
    /// whole values), so a poisoned lock is used as is.
    fn with<R>(&self, f: impl FnOnce(&mut Entries) -> R) -> R {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        f(entries.get_or_insert_with(|| Entries { map: HashMap::default(), bytes: 0 }))
    }
}

fn weigh(key: &str, value: &RawJson) -> usize {
    key.len() + value.len() + ENTRY_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value(n: usize) -> RawJson {
        RawJson::from(json!(n))
    }

    #[test]
    fn makes_once_per_text() {
        let memo = TextMemo::new(10_000);
        let mut made = 0;
        for _ in 0..3 {
            let got = memo.get_or_make("{\"a\":1}", |text| {
                made += 1;
                value(text.len())
            });
            assert_eq!(got, value(7));
        }
        assert_eq!((made, memo.len()), (1, 1));
        assert_eq!(memo.bytes(), 7 + 1 + ENTRY_OVERHEAD);
    }

    #[test]
    fn never_holds_more_than_its_budget_and_starts_over_when_full() {
        let per_entry = 10 + 1 + ENTRY_OVERHEAD;
        let memo = TextMemo::new(3 * per_entry);
        for n in 0..100 {
            memo.get_or_make(&format!("{n:010}"), |_| value(n % 10));
            assert!(memo.bytes() <= 3 * per_entry, "entry {n}: {} bytes", memo.bytes());
        }
        // 99 is the first of a fresh start (at 99 = 3 × 33): alone, then two more.
        assert_eq!(memo.len(), 1);
        let mut made = false;
        memo.get_or_make(&format!("{:010}", 99), |_| {
            made = true;
            value(0)
        });
        assert!(!made, "the newest entry survives the start over");
    }

    #[test]
    fn what_is_heavier_than_the_budget_is_made_every_time_and_evicts_nothing() {
        let memo = TextMemo::new(200);
        memo.get_or_make("small", |_| value(1));
        let huge = "x".repeat(500);
        let mut made = 0;
        for _ in 0..2 {
            memo.get_or_make(&huge, |_| {
                made += 1;
                value(2)
            });
        }
        assert_eq!((made, memo.len()), (2, 1));
    }

    #[test]
    fn one_memo_for_all_threads() {
        static MEMO: TextMemo = TextMemo::new(10_000);
        std::thread::spawn(|| MEMO.get_or_make("k", |_| value(10))).join().unwrap();
        assert_eq!(MEMO.get_or_make("k", |_| value(0)), value(10));
    }
}
