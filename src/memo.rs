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
use std::convert::Infallible;
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

impl<T, V: Clone> Shared<ByAddress<T, V>> {
    /// What was made from `source` before, or what `make` makes of it now,
    /// remembered with the weight `weigh` gives it. The lock is not held
    /// while making; a failure is not remembered.
    pub fn try_remembered<E>(
        &self,
        source: &Arc<T>,
        make: impl FnOnce(&T) -> Result<V, E>,
        weigh: impl FnOnce(&V) -> usize,
    ) -> Result<V, E> {
        if let Some(value) = self.with(|memo| memo.get(source)) {
            return Ok(value);
        }
        let value = make(source)?;
        let weight = weigh(&value);
        self.with(|memo| memo.insert(source, value.clone(), weight));
        Ok(value)
    }

    /// [`Self::try_remembered`] for what cannot fail to be made.
    pub fn remembered(&self, source: &Arc<T>, make: impl FnOnce(&T) -> V, weigh: impl FnOnce(&V) -> usize) -> V {
        let Ok(value) = self.try_remembered(source, |source| Ok::<V, Infallible>(make(source)), weigh);
        value
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
    fn a_value_is_made_once_per_source_and_a_failure_is_not_remembered() {
        static MEMO: Shared<ByAddress<String, usize>> = Shared::new(|| ByAddress::new(100));
        let source = Arc::new("four".to_owned());
        let mut made = 0;
        let mut make = |text: &String| {
            made += 1;
            text.len()
        };
        assert_eq!(MEMO.remembered(&source, &mut make, |_| 1), 4);
        assert_eq!(MEMO.remembered(&source, &mut make, |_| 1), 4);
        assert_eq!(made, 1);

        let other = Arc::new("five!".to_owned());
        assert_eq!(MEMO.try_remembered(&other, |_| Err("no"), |_| 1), Err("no"));
        assert_eq!(MEMO.try_remembered(&other, |text| Ok::<_, &str>(text.len()), |_| 1), Ok(5));
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
