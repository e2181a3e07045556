//! V1–V5 on networks that drop UDP: the TURN relay (coturn) and the short-lived
//! credentials the hub hands out with each call token.
//!
//! coturn's shared-secret scheme ("TURN REST API", `use-auth-secret`): the username is
//! `expiry:name` (expiry in Unix seconds), the password `base64(hmac-sha1(secret,
//! username))`. coturn recomputes it and refuses a username whose expiry has passed, so
//! nothing is stored anywhere and a credential dies by itself.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::clock::UnixMillis;
use crate::protocol::IceServer;

/// The relay the operator runs beside the media nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnConfig {
    /// `turn:host:3478?transport=udp`, `turn:host:3478?transport=tcp`,
    /// `turns:host:443?transport=tcp`: every way in a browser may try.
    pub urls: Vec<String>,
    /// coturn's `static-auth-secret`.
    pub secret: Vec<u8>,
    /// How long a credential lasts: the whole call must fit (coturn checks it again on
    /// every allocation refresh), so hours, not the call token's two minutes.
    pub ttl_ms: u64,
}

/// Four hours: longer than any shop call; what a stolen one buys is a path to the media
/// nodes only (coturn's `allowed-peer-ip`), where it needs a live seat besides.
pub const TURN_TTL_MS: u64 = 4 * 3_600_000;

impl TurnConfig {
    /// The relay at `urls` with coturn's `static-auth-secret`, credentials for [`TURN_TTL_MS`].
    pub fn new(urls: Vec<String>, secret: &str) -> Self {
        Self {
            urls,
            secret: secret.as_bytes().to_vec(),
            ttl_ms: TURN_TTL_MS,
        }
    }

    /// The relay entry for one seat: `name` is opaque (the room's seat, never a visitor ID)
    /// and shows in the relay's logs.
    pub fn ice_server(&self, name: &str, now: UnixMillis) -> IceServer {
        let expires = (now + self.ttl_ms) / 1000;
        let username = format!("{expires}:{name}");
        let mut mac =
            Hmac::<Sha1>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(username.as_bytes());
        IceServer {
            urls: self.urls.clone(),
            username: Some(username),
            credential: Some(STANDARD.encode(mac.finalize().into_bytes())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_follow_coturns_shared_secret_scheme() {
        let turn = TurnConfig {
            urls: vec!["turn:relay.example:3478?transport=tcp".into()],
            secret: b"north".to_vec(),
            ttl_ms: 3_600_000,
        };
        let s = turn.ice_server("r1-s2", 1_700_000_000_500);
        assert_eq!(s.username.as_deref(), Some("1700003600:r1-s2"));
        // openssl: printf '1700003600:r1-s2' | openssl dgst -sha1 -hmac north -binary | base64
        assert_eq!(
            s.credential.as_deref(),
            Some("18c3REH6FeLxqhiKTMy49Sw7cNI=")
        );
        assert_eq!(s.urls, turn.urls);
    }
}
