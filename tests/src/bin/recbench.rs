//! K4's recommender, measured offline (`cargo xtask bench recommend`): hit rate @5 on
//! held-out next views, against the popularity baseline, on generated shopping sessions.
//!
//! The sessions come from a stated model, so the numbers say what the recommender learns
//! and what it cannot: products in categories, each with a popularity (Zipf); a shopper
//! starts on a product picked by popularity and goes on, for a geometric number of steps,
//! to another product of the same category (60 %), to one of the product's two fixed
//! companions (25 % — the lamp's bulb), or anywhere by popularity (15 %). The first 80 %
//! of sessions train ([`Counts::observe`], as page views arrive in production); on the
//! rest, every view after the first is predicted from the views before it (most recent
//! first, as the card does), and a hit is the true next view among the 5 recommended.
//! Views of a product already seen in the session are not predicted (the card never
//! recommends what the contact saw).

use std::collections::HashSet;

use clap::Parser;
use vitrine_core::recommend::{most_popular, recommend, Counts, HISTORY};
use vitrine_tests::bench::Rng;

#[derive(Parser)]
struct Args {
    /// Training sessions, comma-separated: one run each.
    #[arg(long, default_value = "1000,10000,100000")]
    sessions: String,
    #[arg(long, default_value_t = 500)]
    products: usize,
    #[arg(long, default_value_t = 25)]
    categories: usize,
    /// Mean session length (views).
    #[arg(long, default_value_t = 5.0)]
    mean_length: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

struct Shop {
    categories: usize,
    /// Cumulative popularity, for sampling by it.
    cumulative: Vec<f64>,
    companions: Vec<[usize; 2]>,
}

impl Shop {
    fn new(products: usize, categories: usize, rng: &mut Rng) -> Self {
        let mut order: Vec<usize> = (0..products).collect();
        // Popularity rank independent of category: shuffle which product is popular.
        for i in (1..products).rev() {
            order.swap(i, rng.between(0, i as u64 + 1) as usize);
        }
        let mut weight = vec![0.0; products];
        for (rank, product) in order.iter().enumerate() {
            weight[*product] = 1.0 / (rank as f64 + 1.0).powf(1.1);
        }
        let mut cumulative = Vec::with_capacity(products);
        let mut sum = 0.0;
        for w in &weight {
            sum += w;
            cumulative.push(sum);
        }
        let companions = (0..products)
            .map(|_| {
                [
                    rng.between(0, products as u64) as usize,
                    rng.between(0, products as u64) as usize,
                ]
            })
            .collect();
        Self {
            categories,
            cumulative,
            companions,
        }
    }

    fn uniform(rng: &mut Rng) -> f64 {
        (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn by_popularity(&self, rng: &mut Rng) -> usize {
        let total = *self.cumulative.last().unwrap();
        let x = Self::uniform(rng) * total;
        self.cumulative
            .partition_point(|c| *c < x)
            .min(self.cumulative.len() - 1)
    }

    /// By popularity among the products of `category` (products `i` with `i % categories == category`).
    fn in_category(&self, category: usize, rng: &mut Rng) -> usize {
        loop {
            let p = self.by_popularity(rng);
            if p % self.categories == category {
                return p;
            }
        }
    }

    fn session(&self, mean_length: f64, rng: &mut Rng) -> Vec<String> {
        let mut product = self.by_popularity(rng);
        let mut views = vec![product];
        while Self::uniform(rng) > 1.0 / mean_length {
            let x = Self::uniform(rng);
            product = if x < 0.60 {
                self.in_category(product % self.categories, rng)
            } else if x < 0.85 {
                self.companions[product][(rng.next_u64() % 2) as usize]
            } else {
                self.by_popularity(rng)
            };
            views.push(product);
        }
        views.iter().map(|p| format!("/product-{p}")).collect()
    }
}

struct Score {
    predictions: u64,
    hits: u64,
    baseline_hits: u64,
}

fn evaluate(counts: &Counts, test: &[Vec<String>]) -> Score {
    let popular = counts.popular();
    let ranked_popular = most_popular(&popular);
    let mut score = Score {
        predictions: 0,
        hits: 0,
        baseline_hits: 0,
    };
    for session in test {
        for t in 1..session.len() {
            let target = &session[t];
            let before = &session[..t];
            if before.contains(target) {
                continue;
            }
            let history: Vec<String> = before.iter().rev().take(HISTORY).cloned().collect();
            let exclude: HashSet<String> = before.iter().cloned().collect();
            let picked = recommend(&history, |p| counts.successors(p), &popular, &exclude, 5);
            let baseline: Vec<&String> = ranked_popular
                .iter()
                .filter(|p| !exclude.contains(*p))
                .take(5)
                .collect();
            score.predictions += 1;
            score.hits += u64::from(picked.contains(target));
            score.baseline_hits += u64::from(baseline.contains(&target));
        }
    }
    score
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut rng = Rng(args.seed);
    let shop = Shop::new(args.products, args.categories, &mut rng);
    println!(
        "{} products in {} categories, sessions of {:.1} views on average; seed {}",
        args.products, args.categories, args.mean_length, args.seed
    );
    println!();
    println!("| training sessions | predictions | viewed next, hit@5 | popularity, hit@5 | lift |");
    println!("|---:|---:|---:|---:|---:|");
    for n in args.sessions.split(',') {
        let n: usize = n.trim().parse()?;
        let sessions: Vec<Vec<String>> = (0..n + n / 4)
            .map(|_| shop.session(args.mean_length, &mut rng))
            .collect();
        let (train, test) = sessions.split_at(n);
        let mut counts = Counts::default();
        for session in train {
            let mut previous: Option<&str> = None;
            for page in session {
                counts.observe(previous, page);
                previous = Some(page);
            }
        }
        let started = std::time::Instant::now();
        let s = evaluate(&counts, test);
        let elapsed = started.elapsed();
        let rate = |hits: u64| hits as f64 / s.predictions.max(1) as f64;
        println!(
            "| {n} | {} | {:.3} | {:.3} | {:.1}× |",
            s.predictions,
            rate(s.hits),
            rate(s.baseline_hits),
            rate(s.hits) / rate(s.baseline_hits).max(1e-9)
        );
        eprintln!(
            "  ({n} sessions: {:.1} µs per recommendation, both methods)",
            elapsed.as_secs_f64() * 1e6 / s.predictions.max(1) as f64
        );
    }
    Ok(())
}
