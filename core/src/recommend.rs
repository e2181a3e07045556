//! K4's personalised recommendations: "viewed next" — which page shoppers of this site
//! opened right after each page, counted as page views arrive (one counter per
//! transition, [`crate::store::browsing`] keeps them), and each page's views.
//!
//! A contact's recommendations score every page that followed one of their recent
//! product views: the transition's share of what followed that page, weighted by how
//! recent the view is (1, ½, ¼…). Pages they saw are left out; the site's most viewed
//! pages fill what is left. `cargo xtask bench recommend` measures it against that
//! popularity baseline (hit rate @5 on held-out next views; BENCHMARKS.md).
//!
//! Pages are keyed by their path ([`page_key`]): one site, one origin, and a product
//! URL with tracking parameters is the same product.

use std::collections::{HashMap, HashSet};

/// Recent views of a contact that count (most recent first).
pub const HISTORY: usize = 5;
/// Transitions read from each page (the most frequent are what matter; a page rarely has
/// more distinct successors than this).
pub const SUCCESSORS: u32 = 200;

/// The path of a URL, without query, fragment or trailing slash (`/` for the root);
/// what transitions and views are counted by. At most 512 bytes (cut on a char boundary).
pub fn page_key(url: &str) -> String {
    let no_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = match no_scheme.find('/') {
        Some(at) if url.contains("://") => &no_scheme[at..],
        None if url.contains("://") => "/",
        _ => no_scheme,
    };
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let path = path.trim_end_matches('/');
    let mut key = if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    };
    if key.len() > 512 {
        let mut end = 512;
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        key.truncate(end);
    }
    key
}

/// Scores the pages that followed `history` (page keys, most recent first) and returns
/// the best `k`, never one in `exclude`; `successors(page)` gives what followed `page`
/// and how often, `popular` the site's pages by views (any order) to fill up with.
pub fn recommend(
    history: &[String],
    successors: impl Fn(&str) -> Vec<(String, u64)>,
    popular: &[(String, u64)],
    exclude: &HashSet<String>,
    k: usize,
) -> Vec<String> {
    let mut scores: HashMap<String, f64> = HashMap::new();
    let mut seen = HashSet::new();
    for (age, page) in history.iter().take(HISTORY).enumerate() {
        if !seen.insert(page) {
            continue;
        }
        let next = successors(page);
        let total: u64 = next.iter().map(|(_, n)| n).sum();
        if total == 0 {
            continue;
        }
        let weight = 0.5f64.powi(age as i32);
        for (candidate, n) in next {
            if candidate != *page && !exclude.contains(&candidate) {
                *scores.entry(candidate).or_default() += weight * n as f64 / total as f64;
            }
        }
    }
    let views: HashMap<&str, u64> = popular.iter().map(|(p, n)| (p.as_str(), *n)).collect();
    let mut ranked: Vec<(String, f64)> = scores.into_iter().collect();
    // Ties (often: one shopper's path) go to the page more people view, then by name.
    ranked.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| views.get(b.0.as_str()).cmp(&views.get(a.0.as_str())))
            .then_with(|| a.0.cmp(&b.0))
    });
    let mut picked: Vec<String> = ranked.into_iter().map(|(p, _)| p).take(k).collect();
    for page in most_popular(popular) {
        if picked.len() >= k {
            break;
        }
        if !exclude.contains(&page) && !picked.contains(&page) && !history.contains(&page) {
            picked.push(page);
        }
    }
    picked
}

/// Pages by views, most first (ties by name, so the order is stable).
pub fn most_popular(popular: &[(String, u64)]) -> Vec<String> {
    let mut sorted: Vec<&(String, u64)> = popular.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sorted.into_iter().map(|(p, _)| p.clone()).collect()
}

/// The same counts in memory: what the store keeps, for the offline benchmark and tests.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub next: HashMap<String, HashMap<String, u64>>,
    pub views: HashMap<String, u64>,
}

impl Counts {
    /// A page view, after `previous` in the same visit (what the hub tells the store).
    pub fn observe(&mut self, previous: Option<&str>, page: &str) {
        *self.views.entry(page.to_string()).or_default() += 1;
        if let Some(previous) = previous.filter(|p| *p != page) {
            *self
                .next
                .entry(previous.to_string())
                .or_default()
                .entry(page.to_string())
                .or_default() += 1;
        }
    }

    pub fn successors(&self, page: &str) -> Vec<(String, u64)> {
        self.next
            .get(page)
            .map(|m| m.iter().map(|(p, n)| (p.clone(), *n)).collect())
            .unwrap_or_default()
    }

    pub fn popular(&self) -> Vec<(String, u64)> {
        self.views.iter().map(|(p, n)| (p.clone(), *n)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_keyed_by_path() {
        assert_eq!(page_key("https://shop.example/lamp?utm=x#top"), "/lamp");
        assert_eq!(page_key("https://shop.example/lamp/"), "/lamp");
        assert_eq!(page_key("https://shop.example"), "/");
        assert_eq!(page_key("https://shop.example/"), "/");
        assert_eq!(page_key("/lamp"), "/lamp");
        let long = format!("https://s.example/{}", "é".repeat(400));
        assert!(page_key(&long).len() <= 512);
    }

    #[test]
    fn what_followed_the_recent_views_ranks_first_and_popular_pages_fill_up() {
        let mut c = Counts::default();
        for (prev, page) in [
            ("/lamp", "/bulb"),
            ("/lamp", "/bulb"),
            ("/lamp", "/shade"),
            ("/chair", "/cushion"),
        ] {
            c.observe(None, prev);
            c.observe(Some(prev), page);
        }
        for _ in 0..10 {
            c.observe(None, "/sofa");
        }
        let history = vec!["/lamp".to_string(), "/chair".to_string()];
        let exclude = HashSet::from(["/shade".to_string()]);
        let picked = recommend(&history, |p| c.successors(p), &c.popular(), &exclude, 3);
        // bulb: 2/3; cushion: ½ × 1 (an older view); shade excluded; sofa fills up.
        assert_eq!(picked, vec!["/bulb", "/cushion", "/sofa"]);
    }
}
