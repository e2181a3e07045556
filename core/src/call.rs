//! Calls: the short-lived call token the platform signs and the media node trusts, and the
//! media node's signaling frames (TypeScript types are generated from them too).
//!
//! A token is `base64url(json claims) "." base64url(hmac-sha256(key, json claims))`. The
//! key is shared by the platform (hub/API) and the media node, never by browsers.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use ts_rs::TS;

use crate::protocol::UnixMillis;

/// Most participants in one room: an agent and ten visitors (V4).
pub const MAX_ROOM_PARTICIPANTS: usize = 11;
/// How long a freshly signed token may be used to join.
pub const CALL_TOKEN_TTL_MS: u64 = 120_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CallRole {
    /// The agent: may remove participants and end the room.
    Host,
    /// A visitor who accepted.
    Guest,
    /// A visitor who has not answered yet: receives the host's camera only (V1), sends
    /// nothing, is invisible to the others.
    Preview,
}

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

fn mac(key: &[u8], payload: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(payload);
    mac
}

pub fn sign_call_token(key: &[u8], claims: &CallClaims) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    let signature = mac(key, &payload).finalize().into_bytes();
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
    mac(key, &payload)
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

/// What a published track carries; the subscriber's UI places it accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TrackSource {
    Microphone,
    Camera,
    Screen,
}

impl TrackSource {
    /// The media stream id a subscriber sees: camera and microphone of one participant
    /// share a stream (lip sync), the screen has its own.
    pub fn stream_id(self, participant: &str) -> String {
        match self {
            TrackSource::Screen => format!("{participant}~screen"),
            _ => participant.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CallPeer {
    pub participant: String,
    pub name: String,
    pub role: CallRole,
}

/// Browser (or any WebRTC client) → media node, on `/ws/call`.
///
/// The client always makes the offers (it is the only side adding transceivers the node
/// forwards into), so there is no offer glare: the node asks for a new offer with
/// `renegotiate` when other participants' tracks appear or go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CallClientFrame {
    /// First frame. `room` must match the token's room.
    Join {
        room: String,
        token: String,
    },
    /// An SDP offer. `sources` says what each sending mid carries; `receive` maps
    /// recvonly mids to the remote track ids (from `tracks`) they should receive.
    Offer {
        sdp: String,
        #[ts(type = "Record<string, TrackSource>")]
        sources: BTreeMap<String, TrackSource>,
        #[ts(type = "Record<string, string>")]
        receive: BTreeMap<String, String>,
    },
    /// Simulcast: which layer (rid) of a remote track this client wants.
    Layer {
        track: String,
        rid: String,
    },
    /// Host only: remove a participant from the room.
    Remove {
        participant: String,
    },
    /// Host only: end the room for everyone.
    End {},
    Leave {},
    Ping {},
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RemoteTrack {
    /// Stable id of the forwarded track (`participant/source`).
    pub id: String,
    pub participant: String,
    pub source: TrackSource,
    /// `audio` or `video`.
    pub kind: String,
}

/// Media node → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallServerFrame {
    Joined {
        participant: String,
        peers: Vec<CallPeer>,
    },
    Answer {
        sdp: String,
    },
    /// The set of remote tracks changed: make a new offer with one recvonly transceiver
    /// per track (reusing inactive ones).
    Tracks {
        tracks: Vec<RemoteTrack>,
    },
    PeerJoined {
        peer: CallPeer,
    },
    PeerLeft {
        participant: String,
    },
    /// This participant was removed by the host (V5).
    Removed {},
    /// The room ended (host ended it, or the node is shutting down).
    Ended {
        reason: String,
    },
    Error {
        code: String,
        message: String,
    },
    Pong {},
}

/// Media node → platform: what happened in a room (C14).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallEventKind {
    RoomStarted,
    ParticipantJoined { participant: String, role: CallRole },
    ParticipantLeft { participant: String, role: CallRole },
    RoomEnded { duration_ms: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEvent {
    pub site: String,
    pub room: String,
    pub at: UnixMillis,
    #[serde(flatten)]
    pub kind: CallEventKind,
}

/// Signature header value for a call-event POST body (same key as the tokens).
pub fn sign_body(key: &[u8], body: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(mac(key, body).finalize().into_bytes())
}

pub fn verify_body(key: &[u8], body: &[u8], signature: &str) -> bool {
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    mac(key, body).verify_slice(&signature).is_ok()
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
        let signature = sign_body(b"key", b"{}");
        assert!(verify_body(b"key", b"{}", &signature));
        assert!(!verify_body(b"key", b"{ }", &signature));
        assert!(!verify_body(b"other", b"{}", &signature));
        assert!(!verify_body(b"key", b"{}", "not base64!"));
    }
}
