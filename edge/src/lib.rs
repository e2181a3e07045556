//! Where the presence hub runs. The hub itself is `vitrine_core::hub` (sans-IO); this crate
//! only feeds it inputs and carries out its outputs.
//!
//! - [`native`]: one tokio task per site, WebSocket endpoints for visitors and agents (the
//!   local server mounts them).
//! - The Cloudflare Worker + Durable Object entry (wasm32) takes its place beside it in the
//!   cloud issue, with the same hub.

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
