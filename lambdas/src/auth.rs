//! Agent login: argon2id password hashes, opaque session tokens in an HttpOnly cookie,
//! sessions stored (hashed) with a TTL so logout revokes them.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio::sync::Semaphore;
use vitrine_core::clock::{now_ms, secs};
use vitrine_core::protocol::http::{ChangePassword, LoginRequest};
use vitrine_core::store::accounts::{self, Agent, AgentProfile, Role, Session};

use crate::{ApiError, ApiState, Backend};

pub use vitrine_core::store::accounts::SESSION_COOKIE;

/// argon2 hashes at most this many passwords at once (each holds ~19 MiB for ~50 ms):
/// a burst of logins waits its turn instead of taking the machine's memory.
const CONCURRENT_HASHES: usize = 4;

/// Runs an argon2 computation off the async workers, bounded by [`CONCURRENT_HASHES`].
pub(crate) async fn argon2_blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    static PERMITS: std::sync::OnceLock<Semaphore> = std::sync::OnceLock::new();
    let _permit = PERMITS
        .get_or_init(|| Semaphore::new(CONCURRENT_HASHES))
        .acquire()
        .await
        .map_err(|_| ApiError::unavailable("busy", "try again"))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ApiError::unavailable("busy", "could not check the password; try again"))
}

pub fn hash_password(password: &str) -> String {
    let mut salt_bytes = [0u8; 16];
    getrandom::fill(&mut salt_bytes).expect("the OS has a random source");
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes is a valid salt length");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any password")
        .to_string()
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

fn now_secs() -> u64 {
    secs(now_ms())
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS has a random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn login<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    Json(req): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    if req.email.len() > 320 || req.password.len() > 1024 {
        return Err(ApiError::bad_request("email or password too long"));
    }
    let agent = accounts::agent_by_email(&state.store, &req.email).await?;
    // Verify against a real hash even for unknown emails, so timing does not reveal them.
    let hash = agent
        .as_ref()
        .map(|a| a.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_string());
    let password = req.password.clone();
    let ok = argon2_blocking(move || verify_password(&password, &hash)).await?;
    let agent = match agent {
        Some(agent) if ok => agent,
        _ => return Err(ApiError::unauthorized("wrong email or password")),
    };
    let token = new_token();
    let session = Session {
        email: accounts::normalize_email(&agent.email),
        agent_id: agent.agent_id.clone(),
        account_id: agent.account_id.clone(),
        expires_at: now_secs() + state.session_ttl_secs,
    };
    accounts::create_session(&state.store, &token, &session).await?;
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        state.session_ttl_secs,
        if state.secure_cookies { "; Secure" } else { "" }
    );
    let mut response = Json(AgentProfile::from(&agent)).into_response();
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
        accounts::delete_session(&state.store, &token).await?;
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(accounts::token_from_cookie_header)
        .map(str::to_string)
}

/// The signed-in agent; rejects the request with 401 otherwise.
pub struct CurrentAgent {
    pub session: Session,
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

/// A fresh random password for an invited agent (shown once to the admin).
pub fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS has a random source");
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// An agent changes their own password (invited agents start with a generated one).
pub async fn change_password<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Json(req): Json<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    if req.new.chars().count() < 10 || req.new.len() > 1024 {
        return Err(ApiError::bad_request(
            "the new password needs at least 10 characters",
        ));
    }
    let hash = me.agent.password_hash.clone();
    let current = req.current.clone();
    if !argon2_blocking(move || verify_password(&current, &hash)).await? {
        return Err(ApiError::unauthorized("the current password is wrong"));
    }
    let new = req.new.clone();
    let password_hash = argon2_blocking(move || hash_password(&new)).await?;
    accounts::update_agent(
        &state.store,
        &Agent {
            password_hash,
            ..me.agent
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

impl<S: Backend, B: Sync> FromRequestParts<ApiState<S, B>> for CurrentAgent {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState<S, B>,
    ) -> Result<Self, Self::Rejection> {
        let token =
            session_token(&parts.headers).ok_or_else(|| ApiError::unauthorized("sign in first"))?;
        let (session, agent) = accounts::agent_for_session(&state.store, &token, now_secs())
            .await?
            .ok_or_else(|| ApiError::unauthorized("your session has expired; sign in again"))?;
        Ok(CurrentAgent {
            session,
            profile: AgentProfile::from(&agent),
            agent,
        })
    }
}

/// argon2id hash of a random password nobody knows (see `login`).
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0fX9yN3mKq3yYl0Jc2m0VjQ1Wz8m2mJmYy5lQm5xY2c";
