//! A part's timers: what is due when. Each part of the hub owns one set; the hub's
//! `next_wakeup` is the earliest of them.

use std::collections::BTreeSet;

use crate::clock::UnixMillis;

pub(super) struct Timers<T: Ord>(BTreeSet<(UnixMillis, T)>);

impl<T: Ord> Default for Timers<T> {
    fn default() -> Self {
        Self(BTreeSet::new())
    }
}

impl<T: Ord> Timers<T> {
    pub fn insert(&mut self, at: UnixMillis, timer: T) {
        self.0.insert((at, timer));
    }

    pub fn next(&self) -> Option<UnixMillis> {
        self.0.first().map(|(at, _)| *at)
    }

    /// The earliest timer due at `now`, removed from the set.
    pub fn pop_due(&mut self, now: UnixMillis) -> Option<T> {
        if self.next()? > now {
            return None;
        }
        self.0.pop_first().map(|(_, t)| t)
    }
}
