//! Bounded memos for what a session sends again and again: the same tools,
//! the same system prompt and the same message history, one turn longer,
//! with every request.
//! Parsing and translating them once instead of once per request is most of
//! what codexd can save before a request goes upstream.
//!
//! A memo has a budget, in whatever unit its owner weighs entries (bytes of
//! JSON, or simply one per entry). An insertion that would go over it
//! empties the memo first: the next request fills it again with what that
//! session still uses, and a client that sends ever new content keeps no
//! more than the budget alive. Memos are [`Shared`] by all worker threads:
//! one copy of a session whichever worker its requests land on, behind a
//! lock held only to look up or insert, never while parsing or translating.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

/// A memo (or anything else) for all threads, made on first use; for a
/// `static`.
pub struct Shared<M> {
    memo: Mutex<Option<M>>,
    make: fn() -> M,
}

impl<M> Shared<M> {
    pub const fn new(make: fn() -> M) -> Self {
        Shared { memo: Mutex::new(None), make }
    }

    /// Run `f` on the memo, holding the lock. A thread that panicked while
    /// holding it cannot have left a memo half-changed in a way that
    /// matters (entries are whole values), so a poisoned lock is used as is.
    pub fn with<R>(&self, f: impl FnOnce(&mut M) -> R) -> R {
        let mut memo = self.memo.lock().unwrap_or_else(PoisonError::into_inner);
        f(memo.get_or_insert_with(self.make))
    }
}

/// A map from `K` to `V` that holds at most `budget` units of weight.
pub struct Memo<K, V> {
    entries: HashMap<K, V, foldhash::fast::RandomState>,
    weight: usize,
    budget: usize,
}

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    pub fn new(budget: usize) -> Self {
        Memo { entries: HashMap::default(), weight: 0, budget }
    }

    /// A copy of what is remembered for `key` (memos hold cheap clones:
    /// `Arc`s, or values made of them).
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.entries.get(key).cloned()
    }

    /// Remember `value` for `key`, counting `weight` against the budget.
    /// Something heavier than the whole budget is not remembered.
    pub fn insert(&mut self, key: K, value: V, weight: usize) {
        if weight > self.budget {
            return;
        }
        if self.weight + weight > self.budget {
            self.entries.clear();
            self.weight = 0;
        }
        if self.entries.insert(key, value).is_none() {
            self.weight += weight;
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A memo of what was made from an `Arc`'s value, keyed by its address:
/// for values that an earlier memo already shares between requests. Each
/// entry holds its `Arc`, so that address cannot go to another value while
/// the entry exists, and an `Arc`'s value never changes.
pub struct ByAddress<T, V>(Memo<usize, (Arc<T>, V)>);

impl<T, V: Clone> ByAddress<T, V> {
    pub fn new(budget: usize) -> Self {
        ByAddress(Memo::new(budget))
    }

    pub fn get(&self, source: &Arc<T>) -> Option<V> {
        self.0.get(&(Arc::as_ptr(source) as usize)).map(|(_, value)| value)
    }

    pub fn insert(&mut self, source: &Arc<T>, value: V, weight: usize) {
        self.0.insert(Arc::as_ptr(source) as usize, (source.clone(), value), weight);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_until_the_budget_would_be_exceeded_then_starts_over() {
        let mut memo: Memo<&str, u32> = Memo::new(10);
        memo.insert("a", 1, 4);
        memo.insert("b", 2, 4);
        assert_eq!((memo.get("a"), memo.get("b"), memo.len()), (Some(1), Some(2), 2));
        // 4 + 4 + 4 > 10: the memo starts over with just the new entry.
        memo.insert("c", 3, 4);
        assert_eq!((memo.get("a"), memo.get("b"), memo.get("c"), memo.len()), (None, None, Some(3), 1));
    }

    #[test]
    fn an_entry_heavier_than_the_budget_is_not_kept_and_evicts_nothing() {
        let mut memo: Memo<String, u32> = Memo::new(10);
        memo.insert("small".to_owned(), 1, 3);
        memo.insert("huge".to_owned(), 2, 11);
        assert_eq!((memo.get("small"), memo.get("huge")), (Some(1), None));
    }

    #[test]
    fn by_address_tells_equal_values_apart_and_keeps_them_alive() {
        let mut memo: ByAddress<String, usize> = ByAddress::new(10);
        let one = Arc::new("same".to_owned());
        let other = Arc::new("same".to_owned());
        memo.insert(&one, 1, 1);
        assert_eq!((memo.get(&one), memo.get(&other)), (Some(1), None));
        // The entry holds the value: dropping the caller's `Arc` frees nothing.
        let weak = Arc::downgrade(&one);
        drop(one);
        assert!(weak.upgrade().is_some());
    }

    #[test]
    fn shared_is_one_memo_for_all_threads() {
        static MEMO: Shared<Memo<u32, u32>> = Shared::new(|| Memo::new(100));
        std::thread::spawn(|| MEMO.with(|memo| memo.insert(1, 10, 1))).join().unwrap();
        assert_eq!(MEMO.with(|memo| memo.get(&1)), Some(10));
    }

    #[test]
    fn replacing_a_key_does_not_count_twice() {
        let mut memo: Memo<&str, u32> = Memo::new(10);
        for value in 0..20 {
            memo.insert("same", value, 4);
        }
        memo.insert("other", 7, 4);
        assert_eq!((memo.get("same"), memo.get("other")), (Some(19), Some(7)));
    }
}
