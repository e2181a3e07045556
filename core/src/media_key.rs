//! Everything signed with the key the platform shares with the media node (never with
//! browsers): call tokens (platform → browser → node: who may join which room, as what,
//! until when) and call event reports (node → platform).
//!
//! A token is `base64url(json claims) "." base64url(hmac-sha256(key, purpose ‖ json claims))`.
//! Every signature names its [`Purpose`] inside the MAC, so what is signed for one use
//! never verifies for another with the same key (a token's claims are no call event).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::clock::UnixMillis;
use crate::protocol::media::{CallEvent, CallRole, MediaCommand};

/// How long a freshly signed token may be used to join.
pub const CALL_TOKEN_TTL_MS: u64 = 120_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallClaims {
    pub site: String,
    pub room: String,
    pub participant: String,
    pub name: String,
    pub role: CallRole,
    pub expires_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed call token")]
    Malformed,
    #[error("call token signature does not match")]
    Forged,
    #[error("call token expired")]
    Expired,
    #[error("call token is for another room")]
    WrongRoom,
}

/// What a signature is for: part of what is MACed (domain separation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Platform → browser → node: who may join which room.
    CallToken,
    /// Node → platform: what happened in a room.
    CallEvent,
    /// Platform → node: revoke a seat, end a room.
    MediaCommand,
    /// API → hubs (the changes key): what an admin changed.
    ChangeNotice,
    /// Worker → API (the changes key): the browser's address.
    ClientAddress,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::CallToken => b"vitrine call token\0",
            Purpose::CallEvent => b"vitrine call event\0",
            Purpose::MediaCommand => b"vitrine media command\0",
            Purpose::ChangeNotice => b"vitrine change notice\0",
            Purpose::ClientAddress => b"vitrine client address\0",
        }
    }
}

fn mac(key: &[u8], purpose: Purpose, payload: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(purpose.label());
    mac.update(payload);
    mac
}

pub fn sign_call_token(key: &[u8], claims: &CallClaims) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    let signature = mac(key, Purpose::CallToken, &payload)
        .finalize()
        .into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// Checks signature, expiry and room. The signature is compared in constant time.
pub fn verify_call_token(
    key: &[u8],
    token: &str,
    room: &str,
    now: UnixMillis,
) -> Result<CallClaims, TokenError> {
    let (payload, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?;
    if payload.is_empty() || signature.len() != 32 {
        return Err(TokenError::Malformed);
    }
    mac(key, Purpose::CallToken, &payload)
        .verify_slice(&signature)
        .map_err(|_| TokenError::Forged)?;
    let claims: CallClaims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
    if claims.expires_at <= now {
        return Err(TokenError::Expired);
    }
    if claims.room != room {
        return Err(TokenError::WrongRoom);
    }
    Ok(claims)
}

/// Signature header value for a signed POST body of this purpose.
pub fn sign_body(key: &[u8], purpose: Purpose, body: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(mac(key, purpose, body).finalize().into_bytes())
}

pub fn verify_body(key: &[u8], purpose: Purpose, body: &[u8], signature: &str) -> bool {
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    mac(key, purpose, body).verify_slice(&signature).is_ok()
}

/// Signed messages older or newer than this (by their own time) are refused; a nonce is
/// remembered this long.
pub const FRESH_WINDOW_MS: u64 = 5 * 60_000;

/// Refuses replays of signed messages (call events, media commands): one whose time is
/// outside [`FRESH_WINDOW_MS`] of now, or whose nonce was seen within it.
#[derive(Debug, Default)]
pub struct ReplayGuard {
    seen: std::collections::HashMap<String, UnixMillis>,
}

impl ReplayGuard {
    /// Whether a message is new; it is remembered if so.
    pub fn admit(&mut self, nonce: &str, at: UnixMillis, now: UnixMillis) -> bool {
        self.seen
            .retain(|_, seen_at| now.saturating_sub(*seen_at) <= FRESH_WINDOW_MS);
        if at.abs_diff(now) > FRESH_WINDOW_MS || self.seen.contains_key(nonce) {
            return false;
        }
        self.seen.insert(nonce.to_string(), now);
        true
    }
}

/// Header carrying a call event's signature.
pub const SIGNATURE_HEADER: &str = "x-vitrine-signature";

/// Why a signed message (call event, media command) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedError {
    #[error("not signed with the expected key")]
    BadSignature,
    #[error("does not decode: {0}")]
    Malformed(String),
}

/// A call event POSTed by the media node: its signature checked first, then its body.
/// Adapters answer 401 for [`SignedError::BadSignature`], 400 for `Malformed`. Whether it
/// is fresh (its time and nonce) is the receiving hub's to judge.
pub fn read_call_event(
    key: &[u8],
    body: &[u8],
    signature: Option<&str>,
) -> Result<CallEvent, SignedError> {
    read_signed(key, Purpose::CallEvent, body, signature)
}

/// A command POSTed to the media node by the platform, read the same way.
pub fn read_media_command(
    key: &[u8],
    body: &[u8],
    signature: Option<&str>,
) -> Result<MediaCommand, SignedError> {
    read_signed(key, Purpose::MediaCommand, body, signature)
}

/// A signed JSON body: its signature checked first, then decoded.
pub fn read_signed<T: serde::de::DeserializeOwned>(
    key: &[u8],
    purpose: Purpose,
    body: &[u8],
    signature: Option<&str>,
) -> Result<T, SignedError> {
    if !verify_body(key, purpose, body, signature.unwrap_or("")) {
        return Err(SignedError::BadSignature);
    }
    serde_json::from_slice(body).map_err(|e| SignedError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires_at: UnixMillis) -> CallClaims {
        CallClaims {
            site: "demo-shop".into(),
            room: "room-1".into(),
            participant: "v1".into(),
            name: "Visitor".into(),
            role: CallRole::Guest,
            expires_at,
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let token = sign_call_token(b"key", &claims(1_000));
        assert_eq!(
            verify_call_token(b"key", &token, "room-1", 999),
            Ok(claims(1_000))
        );
        assert_eq!(
            verify_call_token(b"key", &token, "room-1", 1_000),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn forged_wrong_room_and_garbage_tokens_are_refused() {
        let token = sign_call_token(b"key", &claims(1_000));
        assert_eq!(
            verify_call_token(b"other key", &token, "room-1", 0),
            Err(TokenError::Forged)
        );
        assert_eq!(
            verify_call_token(b"key", &token, "room-2", 0),
            Err(TokenError::WrongRoom)
        );
        // Claims edited to become the host: the signature no longer matches.
        let (_, signature) = token.split_once('.').unwrap();
        let mut host = claims(1_000);
        host.role = CallRole::Host;
        let edited = format!(
            "{}.{signature}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&host).unwrap())
        );
        assert_eq!(
            verify_call_token(b"key", &edited, "room-1", 0),
            Err(TokenError::Forged)
        );
        for garbage in ["", ".", "abc", "a.b", "!!.??"] {
            assert_eq!(
                verify_call_token(b"key", garbage, "room-1", 0),
                Err(TokenError::Malformed),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn event_bodies_are_signed() {
        let signature = sign_body(b"key", Purpose::CallEvent, b"{}");
        assert!(verify_body(b"key", Purpose::CallEvent, b"{}", &signature));
        assert!(!verify_body(b"key", Purpose::CallEvent, b"{ }", &signature));
        assert!(!verify_body(
            b"other",
            Purpose::CallEvent,
            b"{}",
            &signature
        ));
        assert!(!verify_body(
            b"key",
            Purpose::CallEvent,
            b"{}",
            "not base64!"
        ));
        assert!(
            !verify_body(b"key", Purpose::MediaCommand, b"{}", &signature),
            "another purpose"
        );
    }

    /// A token's claims and signature are no call event, though signed with the same key
    /// (was: they passed the event signature check; only the JSON shape stopped them).
    #[test]
    fn a_signature_serves_only_its_purpose() {
        let token = sign_call_token(b"key", &claims(10_000));
        let (payload, signature) = token.split_once('.').unwrap();
        let claims = URL_SAFE_NO_PAD.decode(payload).unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let as_header = URL_SAFE_NO_PAD.encode(signature);
        assert!(!verify_body(
            b"key",
            Purpose::CallEvent,
            &claims,
            &as_header
        ));
        assert!(!verify_body(
            b"key",
            Purpose::MediaCommand,
            &claims,
            &as_header
        ));
        assert!(!verify_body(
            b"key",
            Purpose::ChangeNotice,
            &claims,
            &as_header
        ));
        let event = br#"{"site":"s","room":"r","at":5,"nonce":"n1","kind":"room_started"}"#;
        let as_command = sign_body(b"key", Purpose::MediaCommand, event);
        assert_eq!(
            read_call_event(b"key", event, Some(&as_command)),
            Err(SignedError::BadSignature)
        );
    }

    #[test]
    fn replays_and_stale_messages_are_refused() {
        let mut guard = ReplayGuard::default();
        assert!(guard.admit("a", 1_000_000, 1_000_000));
        assert!(
            !guard.admit("a", 1_000_000, 1_000_500),
            "the same nonce again"
        );
        assert!(guard.admit("b", 1_000_000, 1_000_500));
        assert!(
            !guard.admit("c", 1_000_000 - FRESH_WINDOW_MS - 1, 1_000_000),
            "stale"
        );
        assert!(
            !guard.admit("d", 1_000_000 + FRESH_WINDOW_MS + 1, 1_000_000),
            "from the future"
        );
        // Once out of the window, a nonce is forgotten (its message would be stale anyway).
        assert!(guard.admit(
            "a",
            1_000_000 + FRESH_WINDOW_MS + 1,
            1_000_000 + FRESH_WINDOW_MS + 1
        ));
    }

    #[test]
    fn call_events_are_read_only_when_signed() {
        let body = br#"{"site":"s","room":"r","at":5,"nonce":"n1","kind":"room_started"}"#;
        let signature = sign_body(b"key", Purpose::CallEvent, body);
        assert_eq!(
            read_call_event(b"key", body, Some(&signature)).map(|e| e.room),
            Ok("r".to_string())
        );
        assert_eq!(
            read_call_event(b"other", body, Some(&signature)),
            Err(SignedError::BadSignature)
        );
        assert_eq!(
            read_call_event(b"key", body, None),
            Err(SignedError::BadSignature)
        );
        let junk = b"{}";
        assert!(matches!(
            read_call_event(
                b"key",
                junk,
                Some(&sign_body(b"key", Purpose::CallEvent, junk))
            ),
            Err(SignedError::Malformed(_))
        ));
    }
}
