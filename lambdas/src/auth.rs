//! Signing in: argon2id password hashes (bounded concurrency), failed attempts throttled
//! per e-mail and per network address, opaque session tokens in an HttpOnly cookie, stored
//! hashed with a TTL and bound to one agent of one account (logout, deletion and password
//! changes revoke them).

use crate::Json;
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Argon2, Block, Params};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use vitrine_core::changes;
use vitrine_core::clock::{now_ms, secs};
use vitrine_core::protocol::http::{AccountChoice, ChangePassword, LoginAnswer, LoginRequest};
use vitrine_core::store::accounts;
use vitrine_core::store::agents::{self, Agent, AgentProfile, Role, Session};
use vitrine_core::store::Store;

use crate::{ApiError, ApiState, Backend};

pub use vitrine_core::store::agents::SESSION_COOKIE;

/// argon2 hashes at most this many passwords at once (each holds ~19 MiB for ~50 ms):
/// a burst of sign-ins waits its turn instead of taking the machine's memory.
const CONCURRENT_HASHES: usize = 4;
/// Failed sign-ins counted in one window: per e-mail, and per network address.
const LOGIN_WINDOW_SECS: u64 = 15 * 60;
const FAILURES_PER_EMAIL: u64 = 10;
const FAILURES_PER_ADDRESS: u64 = 50;

/// Runs an argon2 computation on the hashing threads ([`CONCURRENT_HASHES`] of them, so
/// at most that many hashes hold their memory at once, and that memory is reused rather
/// than spread over every thread of the runtime's blocking pool).
pub(crate) async fn argon2_blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(CONCURRENT_HASHES)
            .thread_name(|i| format!("vitrine-argon2-{i}"))
            .build()
            .expect("the hashing threads start")
    });
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool.spawn(move || {
        let _ = tx.send(work());
    });
    rx.await
        .map_err(|_| ApiError::unavailable("busy", "could not check the password; try again"))
}

thread_local! {
    /// argon2's working memory, kept by each hashing thread: allocating ~19 MiB per hash
    /// lets glibc keep every freed copy mapped (measured: 12 hashes in a row on one thread
    /// raised peak memory by 209 MiB), reusing it holds peak memory at one copy per thread.
    static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Computes `argon2`'s output for `password` and `salt` into `out`, in this thread's memory.
fn argon2_into(argon2: &Argon2, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
    let needed = argon2.params().block_count();
    BLOCKS.with_borrow_mut(|blocks| {
        if blocks.len() < needed {
            blocks.resize(needed, Block::default());
        }
        argon2
            .hash_password_into_with_memory(password, salt, out, &mut blocks[..needed])
            .is_ok()
    })
}

/// A PHC string (`$argon2id$v=19$m=…`) for a new password, with default parameters and
/// a random salt. Runs on the hashing threads (see [`argon2_blocking`]).
pub fn hash_password(password: &str) -> String {
    let mut salt_bytes = [0u8; 16];
    getrandom::fill(&mut salt_bytes).expect("the OS has a random source");
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes is a valid salt length");
    let argon2 = Argon2::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    assert!(argon2_into(
        &argon2,
        password.as_bytes(),
        &salt_bytes,
        &mut out
    ));
    PasswordHash {
        algorithm: argon2::Algorithm::default().ident(),
        version: Some(argon2::Version::default().into()),
        params: argon2
            .params()
            .try_into()
            .expect("default parameters encode"),
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).expect("32 bytes is a valid output length")),
    }
    .to_string()
}

/// Whether `password` matches a PHC string made by [`hash_password`] (constant-time
/// comparison; anything unparsable never matches).
pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        argon2::Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = parsed
        .version
        .map_or(Ok(argon2::Version::default()), argon2::Version::try_from);
    let Ok(version) = version else { return false };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    argon2_into(
        &Argon2::new(algorithm, version, params),
        password.as_bytes(),
        salt_bytes,
        &mut out,
    ) && Output::new(&out).is_ok_and(|computed| computed == expected)
}

pub(crate) fn now_secs() -> u64 {
    secs(now_ms())
}

pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS has a random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a request came from: the browser's address as the Worker signed it (when the API
/// sits behind the Worker and shares its key), else the socket's peer locally, else API
/// Gateway's `sourceIp` on Lambda. Only ever used to count, never to trust.
pub struct ClientAddress(pub String);

impl<S: Sync, B: Sync> FromRequestParts<ApiState<S, B>> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState<S, B>,
    ) -> Result<Self, Self::Rejection> {
        let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
        if let (Some(key), Some(address), Some(signature)) = (
            &state.client_address_key,
            header(changes::CLIENT_ADDRESS_HEADER),
            header(changes::CLIENT_ADDRESS_SIGNATURE_HEADER),
        ) {
            if let Some(address) = changes::verified_client_address(key, address, signature) {
                return Ok(Self(address.to_string()));
            }
        }
        if let Some(ConnectInfo(addr)) = parts.extensions.get::<ConnectInfo<std::net::SocketAddr>>()
        {
            return Ok(Self(addr.ip().to_string()));
        }
        let from_gateway = parts
            .extensions
            .get::<lambda_http::request::RequestContext>()
            .and_then(|ctx| match ctx {
                lambda_http::request::RequestContext::ApiGatewayV2(ctx) => {
                    ctx.http.source_ip.clone()
                }
                _ => None,
            });
        Ok(Self(from_gateway.unwrap_or_else(|| "unknown".into())))
    }
}

/// The throttle's counters for one sign-in attempt.
fn throttle_keys(email: &str, address: &str) -> [(String, u64); 2] {
    [
        (format!("EMAIL#{email}"), FAILURES_PER_EMAIL),
        (format!("ADDRESS#{address}"), FAILURES_PER_ADDRESS),
    ]
}
const THROTTLE_PK: &str = "THROTTLE#login";

/// Refuses a sign-in while its e-mail or address failed too often this window, saying
/// when to try again.
pub(crate) async fn check_throttle<S: Store + Sync>(
    store: &S,
    email: &str,
    address: &str,
) -> Result<(), ApiError> {
    let now = now_secs();
    for (sk, limit) in throttle_keys(email, address) {
        let Some(counter) = store.get(THROTTLE_PK, &sk).await? else {
            continue;
        };
        if counter.u64("n").unwrap_or(0) >= limit {
            let retry_after = counter.expires_at.unwrap_or(now).saturating_sub(now).max(1);
            return Err(ApiError::too_many(
                format!(
                    "too many failed sign-ins; try again in {} minutes",
                    retry_after.div_ceil(60)
                ),
                retry_after,
            ));
        }
    }
    Ok(())
}

pub(crate) async fn count_failure<S: Store + Sync>(
    store: &S,
    email: &str,
    address: &str,
) -> Result<(), ApiError> {
    let window_end = now_secs() + LOGIN_WINDOW_SECS;
    for (sk, _) in throttle_keys(email, address) {
        store.incr(THROTTLE_PK, &sk, window_end).await?;
    }
    Ok(())
}

pub async fn login<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    ClientAddress(address): ClientAddress,
    Json(req): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    if req.email.len() > 320 || req.password.len() > 1024 {
        return Err(ApiError::bad_request("email or password too long"));
    }
    let email = agents::normalize_email(&req.email);
    check_throttle(&state.store, &email, &address).await?;
    let person = agents::person(&state.store, &email).await?;
    // Verify against a real hash even for unknown e-mails, so timing does not reveal them.
    let hash = person
        .as_ref()
        .map(|p| p.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_string());
    let password = req.password.clone();
    let verified = argon2_blocking(move || verify_password(&password, &hash)).await?;
    let ok = verified && person.is_some();
    if !ok {
        count_failure(&state.store, &email, &address).await?;
        return Err(ApiError::unauthorized("wrong email or password"));
    }
    state
        .store
        .delete(THROTTLE_PK, &format!("EMAIL#{email}"))
        .await?;
    let mut theirs = agents::agents_of(&state.store, &email).await?;
    let agent = match (&req.account_id, theirs.len()) {
        (_, 0) => return Err(ApiError::unauthorized("wrong email or password")),
        (None, 1) => theirs.remove(0),
        (None, _) => {
            let mut accounts = Vec::new();
            for agent in &theirs {
                let name = accounts::get_account(&state.store, &agent.account_id)
                    .await?
                    .map_or_else(|| agent.account_id.clone(), |a| a.name);
                accounts.push(AccountChoice {
                    account_id: agent.account_id.clone(),
                    name,
                    role: agent.role,
                });
            }
            return Ok(Json(LoginAnswer::ChooseAccount { accounts }).into_response());
        }
        (Some(account), _) => theirs
            .into_iter()
            .find(|a| &a.account_id == account)
            .ok_or_else(|| ApiError::unauthorized("you are not an agent of that account"))?,
    };
    sign_in(&state, &agent).await
}

/// Starts a session for `agent` and answers with its cookie (sign-in, an accepted
/// invitation).
pub(crate) async fn sign_in<S: Backend, B>(
    state: &ApiState<S, B>,
    agent: &Agent,
) -> Result<Response, ApiError> {
    let token = new_token();
    let session = Session {
        agent_id: agent.agent_id.clone(),
        account_id: agent.account_id.clone(),
        expires_at: now_secs() + state.session_ttl_secs,
    };
    agents::create_session(&state.store, &token, &session).await?;
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        state.session_ttl_secs,
        if state.secure_cookies { "; Secure" } else { "" }
    );
    let answer = LoginAnswer::SignedIn {
        agent: AgentProfile::from(agent),
    };
    let mut response = Json(answer).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("token is hex"),
    );
    Ok(response)
}

/// Requires a JSON body (`{}`): a cross-site form cannot send one without CORS approval.
pub async fn logout<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    headers: HeaderMap,
    Json(_): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    if let Some(token) = session_token(&headers) {
        if let Some(ended) = agents::delete_session(&state.store, &token).await? {
            let change = crate::Changed::Session {
                account_id: ended.account_id,
                agent_id: ended.agent_id,
                session: agents::session_id(&token),
            };
            crate::changed(&state, change).await;
        }
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(agents::token_from_cookie_header)
        .map(str::to_string)
}

/// The signed-in agent; rejects the request with 401 otherwise.
pub struct CurrentAgent {
    pub session: Session,
    pub token: String,
    pub agent: Agent,
    pub profile: AgentProfile,
}

impl CurrentAgent {
    /// Admin-only endpoints call this first (A3).
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.agent.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden("only admins can do this"))
        }
    }
}

/// The shortest password a person may choose.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// A chosen password's bounds, with the error the person reads.
pub(crate) fn check_new_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > 1024 {
        return Err(ApiError::bad_request(
            "the new password needs at least 10 characters",
        ));
    }
    Ok(())
}

/// A person changes their password, proving the current one (wrong guesses count against
/// the sign-in throttle, per e-mail and per address). Every other session of theirs, in
/// any account, ends.
pub async fn change_password<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    ClientAddress(address): ClientAddress,
    me: CurrentAgent,
    Json(req): Json<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    check_new_password(&req.new)?;
    if req.current.len() > 1024 {
        return Err(ApiError::bad_request("the current password is too long"));
    }
    let email = me.agent.email.clone();
    check_throttle(&state.store, &email, &address).await?;
    let person = agents::person(&state.store, &email)
        .await?
        .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    let current = req.current.clone();
    let hash = person.password_hash;
    if !argon2_blocking(move || verify_password(&current, &hash)).await? {
        count_failure(&state.store, &email, &address).await?;
        return Err(ApiError::unauthorized("the current password is wrong"));
    }
    set_password(&state, &email, &req.new, Some(&me.token)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a person's new password and ends every session of theirs in every account but
/// `keep`; the person is told by e-mail when the platform can send it.
pub(crate) async fn set_password<S: Backend, B>(
    state: &ApiState<S, B>,
    email: &str,
    new: &str,
    keep: Option<&str>,
) -> Result<(), ApiError> {
    let new = new.to_string();
    let password_hash = argon2_blocking(move || hash_password(&new)).await?;
    agents::set_password(&state.store, email, &password_hash).await?;
    for agent in agents::agents_of(&state.store, email).await? {
        let ended = agents::delete_sessions_of(&state.store, &agent.agent_id, keep).await?;
        for session in ended {
            let change = crate::Changed::Session {
                account_id: agent.account_id.clone(),
                agent_id: agent.agent_id.clone(),
                session,
            };
            crate::changed(state, change).await;
        }
    }
    if let Some(mailer) = &state.platform_mail {
        if let Err(e) = mailer.send_password_changed(email).await {
            tracing::warn!(error = %e, "the password-changed notice was not sent");
        }
    }
    Ok(())
}

impl<S: Backend, B: Sync> FromRequestParts<ApiState<S, B>> for CurrentAgent {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState<S, B>,
    ) -> Result<Self, Self::Rejection> {
        let token =
            session_token(&parts.headers).ok_or_else(|| ApiError::unauthorized("sign in first"))?;
        let (session, agent) = agents::agent_for_session(&state.store, &token, now_secs())
            .await?
            .ok_or_else(|| ApiError::unauthorized("your session has expired; sign in again"))?;
        Ok(CurrentAgent {
            session,
            token,
            profile: AgentProfile::from(&agent),
            agent,
        })
    }
}

/// argon2id hash of a random password nobody knows (see `login`).
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0fX9yN3mKq3yYl0Jc2m0VjQ1Wz8m2mJmYy5lQm5xY2c";

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    /// The address the throttle counts for a request with these headers.
    async fn address_of(key: Option<&[u8]>, headers: &[(&str, &str)]) -> String {
        let mut request = axum::http::Request::builder().uri("/api/login");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        let mut state = ApiState::new((), (), true);
        state.client_address_key = key.map(<[u8]>::to_vec);
        let ClientAddress(address) = ClientAddress::from_request_parts(&mut parts, &state)
            .await
            .unwrap();
        address
    }

    #[tokio::test]
    async fn behind_the_worker_the_throttle_counts_the_browsers_signed_address() {
        let signature = changes::sign_client_address(b"changes-key", "203.0.113.9");
        let signed = [
            (changes::CLIENT_ADDRESS_HEADER, "203.0.113.9"),
            (changes::CLIENT_ADDRESS_SIGNATURE_HEADER, signature.as_str()),
        ];
        assert_eq!(
            address_of(Some(b"changes-key"), &signed).await,
            "203.0.113.9"
        );
        // A forged or foreign signature, or no key here: the header is not believed.
        let forged = [
            (changes::CLIENT_ADDRESS_HEADER, "198.51.100.1"),
            (changes::CLIENT_ADDRESS_SIGNATURE_HEADER, signature.as_str()),
        ];
        assert_eq!(address_of(Some(b"changes-key"), &forged).await, "unknown");
        assert_eq!(address_of(Some(b"other-key"), &signed).await, "unknown");
        assert_eq!(address_of(None, &signed).await, "unknown");
    }

    #[test]
    fn hashes_interoperate_with_the_argon2_crates_own_hasher_and_verifier() {
        let ours = hash_password("correct horse");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"wrong horse", &parsed)
            .is_err());

        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"battery staple", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password("battery staple", &theirs));
        assert!(!verify_password("battery stapler", &theirs));
    }

    #[test]
    fn unparsable_hashes_never_match() {
        for hash in [
            "",
            "plain",
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ",
            DUMMY_HASH,
        ] {
            assert!(!verify_password("guess", hash), "{hash}");
        }
    }
}
