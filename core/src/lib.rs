//! Vitrine's sans-IO core: no I/O, no clock, no randomness, no async runtime. Builds for
//! wasm32, so the Cloudflare Worker runs the same code as the local server.
//!
//! - [`protocol`]: every wire type (hub frames, media node signaling, HTTP API), once
//! - [`codec`]: decoding and validating what browsers send
//! - [`hub`]: one site's live state as a state machine, and the run loop adapters keep
//! - [`access`]: who may connect and who may see what
//! - [`identity`]: verifying who a shop says its visitor is (signed identities, K1)
//! - [`recommend`]: product recommendations from what shoppers viewed next (K4)
//! - [`changes`]: what the API tells the hubs after an admin change (signed at the edge)
//! - [`delivery`]: how a signed POST between our services is retried
//! - [`media_key`]: call tokens and call events, signed with the media node's key
//! - [`store`]: the storage contract, what is stored under which keys, its contract suite
//! - [`clock`]: time for adapters (the rest takes `now` as input)
//! - [`typescript`]: generating `web/shared/protocol.ts`

pub mod access;
pub mod changes;
pub mod clock;
pub mod codec;
pub mod delivery;
pub mod hub;
pub mod identity;
pub mod media_key;
pub mod protocol;
pub mod recommend;
pub mod store;
pub mod turn;
pub mod typescript;
