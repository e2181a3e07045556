//! Where the hub runs. The hub itself is `vitrine_core::hub` (sans-IO); this crate only
//! keeps its run loop: feeds it inputs and carries out its outputs.
//!
//! - [`native`]: one tokio task per site, WebSocket endpoints for visitors and agents,
//!   the media node's call-event endpoint (the local server mounts them).
//! - [`metrics`]: the counters an edge process exposes to its operator.
//! - `worker` (wasm32): the Cloudflare Worker, and each site's hub as a Durable Object,
//!   with the same hub and the same rules (`cargo xtask worker` builds it).

pub mod metrics;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;
#[cfg(target_arch = "wasm32")]
pub mod worker;
