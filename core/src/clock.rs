//! Time. The hub and everything else sans-IO take `now` as an argument and never read a
//! clock, so tests choose the time. Adapters read the wall clock here (native code only:
//! wasm32 has no system clock; the Worker reads `Date.now()`).

/// Milliseconds since the Unix epoch (server clock unless a field says otherwise).
pub type UnixMillis = u64;

/// The wall clock, for adapters.
#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> UnixMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Whole seconds (store TTLs and session expiries are in seconds, like DynamoDB's TTL).
pub fn secs(ms: UnixMillis) -> u64 {
    ms / 1000
}
