//! Where the hub runs. The hub itself is `vitrine_core::hub` (sans-IO); this crate only
//! keeps its run loop: feeds it inputs and carries out its outputs.
//!
//! - [`native`]: one tokio task per site, WebSocket endpoints for visitors and agents,
//!   the media node's call-event endpoint (the local server mounts them).
//! - [`metrics`]: the counters an edge process exposes to its operator.
//! - The Cloudflare Worker + Durable Object entry (wasm32) takes its place beside
//!   `native`, with the same hub and the same rules.

pub mod metrics;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;
