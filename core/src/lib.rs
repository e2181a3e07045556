//! Vitrine's sans-IO core: no I/O, no clock, no async runtime. Builds for wasm32.
//!
//! - [`call`]: call tokens and the media node's signaling frames
//! - [`protocol`]: the wire frames (TypeScript types are generated from them)
//! - [`codec`]: decoding and validating what browsers send
//! - [`hub`]: the presence hub state machine, one per site
//! - [`store`]: the storage contract; [`records`] and [`accounts`]: domain code on top of it
//! - [`contract`]: the test suite every store implementation must pass

pub mod accounts;
pub mod call;
pub mod catalog;
pub mod codec;
pub mod contract;
pub mod conversations;
pub mod hub;
pub mod protocol;
pub mod records;
pub mod store;
pub mod typescript;
