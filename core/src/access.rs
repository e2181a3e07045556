//! Who may connect, and who may see what: the rules every adapter applies before a socket
//! reaches a hub, and the one conversation-visibility rule the hub and the HTTP API share.
//! Decisions are pure functions; the lookups they need are `async` over [`LocalStore`].

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::clock::{secs, UnixMillis};
use crate::codec;
use crate::hub::{AgentIdentity, Input, SiteSettings};
use crate::protocol::{close_code, ConversationStatus, ConversationSummary, VisitorCredential};
use crate::store::accounts::{self, Plan, Site};
use crate::store::agents;
use crate::store::{LocalStore, StoreResult};

/// The credential that proves a browser is visitor `visitor_id` of `site`: an HMAC with a
/// key only the platform holds, so an ID seen elsewhere (a call, a log, a shared link)
/// gives nobody the visitor's conversation or calls.
pub fn visitor_credential(key: &[u8], site: &str, visitor_id: &str) -> VisitorCredential {
    VisitorCredential {
        visitor_id: visitor_id.to_string(),
        signature: URL_SAFE_NO_PAD
            .encode(visitor_mac(key, site, visitor_id).finalize().into_bytes()),
    }
}

/// Whether `credential` was issued for this site (checked in constant time).
pub fn verify_visitor_credential(key: &[u8], site: &str, credential: &VisitorCredential) -> bool {
    let Ok(signature) = URL_SAFE_NO_PAD.decode(&credential.signature) else {
        return false;
    };
    visitor_mac(key, site, &credential.visitor_id)
        .verify_slice(&signature)
        .is_ok()
}

fn visitor_mac(key: &[u8], site: &str, visitor_id: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"vitrine visitor\0");
    mac.update(site.as_bytes());
    mac.update(b"\0");
    mac.update(visitor_id.as_bytes());
    mac
}

/// Why a socket is refused: the close code and reason the adapter sends (a browser cannot
/// read an HTTP status from a failed WebSocket handshake, so sockets are accepted and
/// then closed with these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub reason: &'static str,
}

pub const UNKNOWN_SITE: Refusal = Refusal {
    code: close_code::UNKNOWN_SITE,
    reason: "unknown or inactive site key",
};
/// The store could not be asked: the client should try again (it does, with backoff).
pub const STORE_DOWN: Refusal = Refusal {
    code: close_code::TRY_AGAIN_LATER,
    reason: "could not check this connection; try again",
};

/// Whether an operator's `Authorization` header carries `token` (`Bearer …`), compared
/// in constant time (both sides MACed with a fixed key, then the MACs compared).
pub fn bearer_matches(token: &str, header: Option<&str>) -> bool {
    use hmac::{Mac, SimpleHmac};
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    let mac = |value: &str| {
        let mut mac = SimpleHmac::<sha2::Sha256>::new_from_slice(b"vitrine operator token")
            .expect("any key length");
        mac.update(value.as_bytes());
        mac
    };
    !token.is_empty()
        && mac(given)
            .verify_slice(&mac(token).finalize().into_bytes())
            .is_ok()
}

/// A site as hubs need it: its record and its account's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRecord {
    pub site: Site,
    pub plan: Plan,
    /// K1: how its visitors' identities are checked (`None`: not set up, all refused).
    pub identity: Option<accounts::SiteIdentity>,
}

impl SiteRecord {
    /// What the site's hub must know of it (origins for navigation, call gating).
    pub fn settings(&self) -> SiteSettings {
        SiteSettings {
            allowed_origins: self.site.allowed_origins.clone(),
            calls_in_plan: self.plan.calls,
            calls_enabled: self.site.calls_enabled,
            consultants: self.site.consultants.clone(),
            language: self.site.language,
            typing_preview: self.site.typing_preview,
            identity: self.identity.clone(),
            cobrowse_consent: self.site.cobrowse_consent,
        }
    }
}

/// Whether `key` could be a site key at all. Anything else is refused before the store
/// (or a cache, or a hub) ever sees it.
pub fn is_site_key(key: &str) -> bool {
    codec::validate_id_length("site", key, 3).is_ok()
}

/// The active site `key` names, with its account's plan; `None` for an unknown,
/// malformed or inactive key.
pub async fn load_site<S: LocalStore + ?Sized>(
    store: &S,
    key: &str,
) -> StoreResult<Option<SiteRecord>> {
    if !is_site_key(key) {
        return Ok(None);
    }
    let Some(site) = accounts::get_site(store, key).await?.filter(|s| s.active) else {
        return Ok(None);
    };
    let plan = accounts::account_plan(store, &site.account_id).await?;
    let identity = accounts::site_identity(store, key).await?;
    Ok(Some(SiteRecord {
        site,
        plan,
        identity,
    }))
}

/// A visitor's socket: the site must exist and be active, and the page's `Origin` must be
/// one the site allows.
pub fn admit_visitor(site: Option<&SiteRecord>, origin: Option<&str>) -> Result<(), Refusal> {
    let site = site.ok_or(UNKNOWN_SITE)?;
    if site.site.allows_origin(origin) {
        Ok(())
    } else {
        Err(Refusal {
            code: close_code::FORBIDDEN,
            reason: "this page's origin is not allowed for this site key",
        })
    }
}

/// What an agent's socket handshake carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct AgentHandshake<'a> {
    /// The `Cookie` header.
    pub cookie: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub host: Option<&'a str>,
}

/// An agent's socket, admitted: who, with which session (the socket lives only as long as
/// it), on which site.
#[derive(Debug, Clone)]
pub struct AdmittedAgent {
    pub agent: AgentIdentity,
    pub session: String,
    pub site: SiteRecord,
}

/// An agent's socket: it must come from the portal's own origin (no cross-site WebSocket
/// hijacking), carry a live session, and be for a site the agent works on (their
/// account's, and assigned to them unless they are an admin).
pub async fn authorize_agent<S: LocalStore + ?Sized>(
    store: &S,
    site_key: &str,
    handshake: AgentHandshake<'_>,
    now: UnixMillis,
) -> Result<AdmittedAgent, Refusal> {
    if !same_origin(handshake.origin, handshake.host) {
        return Err(Refusal {
            code: close_code::FORBIDDEN,
            reason: "agent sockets must come from the portal's origin",
        });
    }
    let token = handshake
        .cookie
        .and_then(agents::token_from_cookie_header)
        .ok_or(Refusal {
            code: close_code::UNAUTHORIZED,
            reason: "sign in first",
        })?;
    let (_, agent) = agents::agent_for_session(store, token, secs(now))
        .await
        .map_err(|_| STORE_DOWN)?
        .ok_or(Refusal {
            code: close_code::UNAUTHORIZED,
            reason: "session expired; sign in again",
        })?;
    let site = load_site(store, site_key)
        .await
        .map_err(|_| STORE_DOWN)?
        .filter(|s| s.site.admits(&agent))
        .ok_or(Refusal {
            code: close_code::FORBIDDEN,
            reason: "not a site you are assigned to",
        })?;
    Ok(AdmittedAgent {
        agent: identity(agent),
        session: agents::session_id(token),
        site,
    })
}

/// An agent as the hubs know them, read again after an admin changed them (`None`:
/// removed). Adapters fail closed: an agent who cannot be read loses their sockets.
pub async fn agent_identity<S: LocalStore + ?Sized>(
    store: &S,
    agent_id: &str,
) -> StoreResult<Option<AgentIdentity>> {
    Ok(agents::agent(store, agent_id).await?.map(identity))
}

/// What a hub must hear after the people behind its agent sockets (`connected`: identity
/// as the hub has it, session) are read again: agents changed or removed, sessions ended.
/// For adapters that can miss a change notice (the Worker hears them over the network),
/// which re-check now and then. A read that fails changes nothing: a store outage must not
/// sign everyone out.
pub async fn recheck_agents<S: LocalStore + ?Sized>(
    store: &S,
    connected: &[(AgentIdentity, String)],
    now_secs: u64,
) -> Vec<Input> {
    let mut inputs = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (known, session) in connected {
        if seen.insert(known.agent_id.as_str()) {
            match agent_identity(store, &known.agent_id).await {
                Ok(now) if now.as_ref() != Some(known) => inputs.push(Input::AgentChanged {
                    agent_id: known.agent_id.clone(),
                    agent: now,
                }),
                Ok(_) | Err(_) => {}
            }
        }
        match agents::session_by_id(store, session, now_secs).await {
            Ok(Some(live)) if live.agent_id == known.agent_id => {}
            Ok(_) => inputs.push(Input::SessionEnded {
                agent_id: known.agent_id.clone(),
                session: session.clone(),
            }),
            Err(_) => {}
        }
    }
    inputs
}

fn identity(agent: agents::Agent) -> AgentIdentity {
    AgentIdentity {
        agent_id: agent.agent_id,
        name: agent.name,
        role: agent.role,
    }
}

/// Whether a browser's `Origin` is the host it connects to. Clients that send no
/// `Origin` are not browsers (and cannot carry a victim's cookie cross-site).
pub fn same_origin(origin: Option<&str>, host: Option<&str>) -> bool {
    match (origin, host) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

/// The one visibility rule for conversations (C3), for the hub and the HTTP API alike:
/// pending ones are for every agent of the site (any of them may take it); an active one
/// only for its owner; closed ones for every agent of the site — the seed's "Closed:
/// history of conversations, which can be taken up again" is a shared folder, so any
/// colleague can read the history and reopen it.
pub fn may_read_conversation(agent_id: &str, summary: &ConversationSummary) -> bool {
    match summary.status {
        ConversationStatus::Pending | ConversationStatus::Closed => true,
        ConversationStatus::Active => summary
            .owner
            .as_ref()
            .is_some_and(|o| o.agent_id == agent_id),
    }
}

/// Open sockets per network address, capped: one address cannot hold more than `cap`
/// (a crowd behind one NAT is far below it; a script opening hundreds is not).
#[derive(Debug)]
pub struct AddressCaps {
    cap: usize,
    open: HashMap<String, usize>,
}

impl AddressCaps {
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            open: HashMap::new(),
        }
    }

    /// Counts a new socket from `address`; `false` (and nothing counted) at the cap.
    pub fn open(&mut self, address: &str) -> bool {
        let n = self.open.entry(address.to_string()).or_default();
        if *n >= self.cap {
            return false;
        }
        *n += 1;
        true
    }

    /// A socket `open` counted has closed.
    pub fn close(&mut self, address: &str) {
        if let Some(n) = self.open.get_mut(address) {
            *n -= 1;
            if *n == 0 {
                self.open.remove(address);
            }
        }
    }

    pub fn addresses(&self) -> usize {
        self.open.len()
    }
}

/// The refusal for an address at its cap.
pub const TOO_MANY_SOCKETS: Refusal = Refusal {
    code: close_code::OVER_LIMIT,
    reason: "too many connections from your network",
};

/// Sites read recently, so a burst of connections costs one store read per site. Only
/// sites that exist are kept (misses are never cached: anyone can invent keys), and at
/// most `capacity` of them: the oldest is dropped first.
pub struct SiteCache {
    entries: HashMap<String, (SiteRecord, UnixMillis)>,
    ttl_ms: u64,
    capacity: usize,
}

impl SiteCache {
    pub fn new(ttl_ms: u64, capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            ttl_ms,
            capacity: capacity.max(1),
        }
    }

    /// The cached site, if read less than the TTL ago.
    pub fn get(&self, key: &str, now: UnixMillis) -> Option<&SiteRecord> {
        self.entries
            .get(key)
            .filter(|(_, at)| now.saturating_sub(*at) < self.ttl_ms)
            .map(|(site, _)| site)
    }

    pub fn insert(&mut self, record: SiteRecord, now: UnixMillis) {
        let key = record.site.site_key.clone();
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(key, (record, now));
    }

    pub fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::AgentRef;

    fn record(key: &str, origins: &[&str]) -> SiteRecord {
        SiteRecord {
            site: Site {
                site_key: key.into(),
                account_id: "acc".into(),
                name: "Shop".into(),
                active: true,
                allowed_origins: origins.iter().map(|o| o.to_string()).collect(),
                consultants: vec![],
                calls_enabled: true,
                language: None,
                typing_preview: true,
                cobrowse_consent: true,
            },
            plan: Plan { calls: true },
            identity: None,
        }
    }

    #[test]
    fn an_operator_token_must_match_exactly() {
        assert!(bearer_matches("s3cret", Some("Bearer s3cret")));
        assert!(!bearer_matches("s3cret", Some("Bearer s3cre")));
        assert!(!bearer_matches("s3cret", Some("s3cret")));
        assert!(!bearer_matches("s3cret", None));
        assert!(!bearer_matches("", Some("Bearer ")));
    }

    #[test]
    fn visitors_need_an_existing_site_and_an_allowed_origin() {
        assert_eq!(
            admit_visitor(None, Some("https://a.example")),
            Err(UNKNOWN_SITE)
        );
        let open = record("shop", &[]);
        assert_eq!(admit_visitor(Some(&open), None), Ok(()));
        let closed = record("shop", &["https://a.example"]);
        assert_eq!(
            admit_visitor(Some(&closed), Some("https://A.example")),
            Ok(())
        );
        for origin in [Some("https://b.example"), Some("http://a.example"), None] {
            assert_eq!(
                admit_visitor(Some(&closed), origin).map_err(|r| r.code),
                Err(close_code::FORBIDDEN),
                "{origin:?}"
            );
        }
    }

    #[test]
    fn visitor_credentials_prove_one_visitor_of_one_site() {
        let c = visitor_credential(b"key", "shop", "visitor-1");
        assert!(verify_visitor_credential(b"key", "shop", &c));
        assert!(
            !verify_visitor_credential(b"key", "other-shop", &c),
            "another site"
        );
        assert!(!verify_visitor_credential(b"other key", "shop", &c));
        let stolen_id = VisitorCredential {
            visitor_id: "visitor-2".into(),
            ..c.clone()
        };
        assert!(!verify_visitor_credential(b"key", "shop", &stolen_id));
        let garbage = VisitorCredential {
            signature: "!!".into(),
            ..c
        };
        assert!(!verify_visitor_credential(b"key", "shop", &garbage));
    }

    #[test]
    fn agent_sockets_must_be_same_origin() {
        assert!(same_origin(
            Some("http://127.0.0.1:8080"),
            Some("127.0.0.1:8080")
        ));
        assert!(same_origin(None, Some("x")));
        assert!(!same_origin(
            Some("http://shop.example"),
            Some("127.0.0.1:8080")
        ));
        assert!(!same_origin(Some("http://127.0.0.1:8080"), None));
    }

    #[test]
    fn site_keys_have_a_form() {
        assert!(is_site_key("demo-shop"));
        assert!(is_site_key("site-0123abcd"));
        assert!(!is_site_key("x"));
        assert!(!is_site_key(&"k".repeat(65)));
        assert!(!is_site_key("a b"));
        assert!(!is_site_key("../x"));
    }

    #[test]
    fn conversation_visibility() {
        let mut c = ConversationSummary {
            conversation_id: "c1".into(),
            visitor_id: "v1".into(),
            status: ConversationStatus::Pending,
            owner: None,
            contact: Default::default(),
            created_at: 0,
            updated_at: 0,
            preview: String::new(),
            last_seq: 0,
            unread: 0,
            proactive: false,
        };
        assert!(may_read_conversation("anyone", &c));
        c.status = ConversationStatus::Active;
        c.owner = Some(AgentRef {
            agent_id: "a1".into(),
            name: "Ada".into(),
        });
        assert!(may_read_conversation("a1", &c));
        assert!(!may_read_conversation("a2", &c));
        c.status = ConversationStatus::Closed;
        assert!(may_read_conversation("a2", &c), "closed history is shared");
    }

    #[test]
    fn sockets_per_address_are_capped_and_released() {
        let mut caps = AddressCaps::new(2);
        assert!(caps.open("a") && caps.open("a"));
        assert!(!caps.open("a"), "at the cap");
        assert!(caps.open("b"), "another address is not held back");
        caps.close("a");
        assert!(caps.open("a"), "a closed socket frees a place");
        caps.close("b");
        assert_eq!(
            caps.addresses(),
            1,
            "no entry is kept for an address with none open"
        );
    }

    #[test]
    fn the_site_cache_expires_and_stays_bounded() {
        let mut cache = SiteCache::new(1_000, 2);
        cache.insert(record("site-a", &[]), 0);
        cache.insert(record("site-b", &[]), 10);
        assert!(cache.get("site-a", 999).is_some());
        assert!(cache.get("site-a", 1_000).is_none(), "expired");
        cache.insert(record("site-c", &[]), 20);
        assert_eq!(cache.len(), 2);
        assert!(cache.get("site-a", 20).is_none(), "the oldest went first");
        assert!(cache.get("site-c", 20).is_some());
        cache.forget("site-c");
        assert!(cache.get("site-c", 20).is_none());
    }
}
