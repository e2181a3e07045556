//! What the API tells the hubs after a change that open sockets depend on: a site's
//! settings, an agent's role or removal, a session that ended. In one process the server
//! applies it directly; at the edge the API POSTs a [`ChangeNotice`], signed with the
//! changes key, to the Worker, which hands it to the objects of the sites named in it.

use serde::{Deserialize, Serialize};

use crate::media_key::{self, SignedError};
use crate::protocol::UnixMillis;

/// Where the Worker takes change notices.
pub const CHANGES_PATH: &str = "/internal/changed";

/// At most this many sites per notice (an account's sites are listed up to this many).
pub const MAX_SITES: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Changed {
    /// A site's settings or consultants (or the site is gone).
    Site { site_key: String },
    /// An agent's name or role, or their removal.
    Agent {
        account_id: String,
        agent_id: String,
    },
    /// A session ended (sign-out, password change): its sockets close.
    Session {
        account_id: String,
        agent_id: String,
        session: String,
    },
}

/// Which hubs must hear a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience<'a> {
    Site(&'a str),
    /// Every site of the account (an agent may be on any of them).
    Account(&'a str),
}

impl Changed {
    pub fn audience(&self) -> Audience<'_> {
        match self {
            Changed::Site { site_key } => Audience::Site(site_key),
            Changed::Agent { account_id, .. } | Changed::Session { account_id, .. } => {
                Audience::Account(account_id)
            }
        }
    }
}

/// A change and the sites whose hubs must apply it, as sent to the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeNotice {
    pub change: Changed,
    pub sites: Vec<String>,
    /// When the API sent it.
    pub at: UnixMillis,
}

/// Why a notice was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    #[error("{0}")]
    Signed(#[from] SignedError),
    #[error("sent too long ago (or in the future)")]
    Stale,
    #[error("names more than {MAX_SITES} sites")]
    TooManySites,
}

/// Signs a notice: the body and its signature header value.
pub fn sign_notice(key: &[u8], notice: &ChangeNotice) -> (String, String) {
    let body = serde_json::to_string(notice).expect("notices serialize");
    let signature = media_key::sign_body(key, media_key::Purpose::ChangeNotice, body.as_bytes());
    (body, signature)
}

/// A notice POSTed by the API: signature first, then body, then its age. A replay within
/// the window is harmless (each change is applied by reading the store again), so no
/// nonce is kept.
pub fn read_notice(
    key: &[u8],
    body: &[u8],
    signature: Option<&str>,
    now: UnixMillis,
) -> Result<ChangeNotice, NoticeError> {
    let notice: ChangeNotice =
        media_key::read_signed(key, media_key::Purpose::ChangeNotice, body, signature)?;
    if notice.at.abs_diff(now) > media_key::FRESH_WINDOW_MS {
        return Err(NoticeError::Stale);
    }
    if notice.sites.len() > MAX_SITES {
        return Err(NoticeError::TooManySites);
    }
    Ok(notice)
}

/// The browser's address, as the Worker saw it, on what it carries to the API: behind
/// the Worker every request reaches the API from Cloudflare's addresses, so per-address
/// limits (sign-in throttling) need the real one — and must not believe anyone else.
pub const CLIENT_ADDRESS_HEADER: &str = "x-vitrine-client-address";
/// Its signature with the changes key (the one secret the API and the Worker share).
pub const CLIENT_ADDRESS_SIGNATURE_HEADER: &str = "x-vitrine-client-address-signature";

/// What the Worker signs for an address (a domain prefix keeps it from ever being
/// mistaken for a signed notice body).
fn client_address_message(address: &str) -> Vec<u8> {
    format!("client-address\n{address}").into_bytes()
}

pub fn sign_client_address(key: &[u8], address: &str) -> String {
    media_key::sign_body(
        key,
        media_key::Purpose::ClientAddress,
        &client_address_message(address),
    )
}

/// The address if its signature is the Worker's.
pub fn verified_client_address<'a>(
    key: &[u8],
    address: &'a str,
    signature: &str,
) -> Option<&'a str> {
    media_key::verify_body(
        key,
        media_key::Purpose::ClientAddress,
        &client_address_message(address),
        signature,
    )
    .then_some(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_address_is_believed_only_with_the_workers_signature() {
        let signature = sign_client_address(b"key", "203.0.113.9");
        assert_eq!(
            verified_client_address(b"key", "203.0.113.9", &signature),
            Some("203.0.113.9")
        );
        assert_eq!(
            verified_client_address(b"key", "198.51.100.1", &signature),
            None
        );
        assert_eq!(
            verified_client_address(b"other", "203.0.113.9", &signature),
            None
        );
        assert_eq!(
            verified_client_address(b"key", "203.0.113.9", "forged"),
            None
        );
    }

    fn notice(at: UnixMillis) -> ChangeNotice {
        ChangeNotice {
            change: Changed::Session {
                account_id: "acct".into(),
                agent_id: "a1".into(),
                session: "s1".into(),
            },
            sites: vec!["demo-shop".into()],
            at,
        }
    }

    #[test]
    fn a_signed_fresh_notice_is_read_back() {
        let (body, signature) = sign_notice(b"key", &notice(1_000));
        assert_eq!(
            read_notice(b"key", body.as_bytes(), Some(&signature), 2_000),
            Ok(notice(1_000))
        );
    }

    #[test]
    fn forged_stale_and_oversized_notices_are_refused() {
        let (body, signature) = sign_notice(b"key", &notice(1_000));
        assert_eq!(
            read_notice(b"other", body.as_bytes(), Some(&signature), 1_000),
            Err(NoticeError::Signed(SignedError::BadSignature))
        );
        assert_eq!(
            read_notice(b"key", body.as_bytes(), None, 1_000),
            Err(NoticeError::Signed(SignedError::BadSignature))
        );
        let late = 1_000 + media_key::FRESH_WINDOW_MS + 1;
        assert_eq!(
            read_notice(b"key", body.as_bytes(), Some(&signature), late),
            Err(NoticeError::Stale)
        );
        let mut many = notice(1_000);
        many.sites = vec!["s".into(); MAX_SITES + 1];
        let (body, signature) = sign_notice(b"key", &many);
        assert_eq!(
            read_notice(b"key", body.as_bytes(), Some(&signature), 1_000),
            Err(NoticeError::TooManySites)
        );
    }
}
