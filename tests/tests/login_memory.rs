//! Password hashing is bounded: a burst of sign-ins cannot take the machine's memory.
//! (Its own test binary, so the process's peak memory is this test's alone.)

mod common;

use anyhow::Result;
use serde_json::json;

/// The process's peak resident memory so far, in KiB.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_sign_ins_holds_a_bounded_amount_of_argon2_memory() -> Result<()> {
    let (_server, base) = common::start_with(|_| {}).await?;
    let http = reqwest::Client::new();
    let attempt = |i: usize| {
        let http = http.clone();
        let url = format!("{base}/api/login");
        async move {
            http.post(url)
                .json(&json!({"email": format!("nobody-{i}@example.com"), "password": "guess"}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    };
    assert_eq!(attempt(0).await?, 401, "warm-up: one hash");
    let before = peak_kib();
    // 48 at once (each argon2id verification holds ~19 MiB while it runs).
    let statuses = futures_util::future::join_all((1..=48).map(attempt)).await;
    assert!(
        statuses.iter().all(|s| matches!(s, Ok(401))),
        "{statuses:?}"
    );
    let grew_mib = peak_kib().saturating_sub(before) / 1024;
    // Unbounded: ~900 MiB (48 × 19 MiB). Four hashing threads, each reusing its memory:
    // at most 4 × 19 MiB (measured 42 MiB, the warm-up's copy already counted).
    assert!(grew_mib < 120, "peak memory grew by {grew_mib} MiB");
    Ok(())
}
