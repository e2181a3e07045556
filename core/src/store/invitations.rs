//! Invitations and password resets: single-use links that only the person who reads the
//! e-mail can use. A sign-in identity (`PERSON#…`) is global, so no admin may ever learn a
//! credential for one: an invitation grants a seat in one account only once its link is
//! used — by a new person choosing their password, or by someone who already signs in,
//! proving it with their own password.
//!
//! | pk                       | sk               | what                                       |
//! |--------------------------|------------------|--------------------------------------------|
//! | `INVITE#{sha256(token)}` | `META`           | an invitation (TTL = expiry)               |
//! | `INVITE#{sha256(token)}` | `USED`           | written when it is accepted: used once     |
//! | `ACCOUNT#{account_id}`   | `INVITE#{email}` | the account's pending invitation to e-mail |
//! | `RESET#{sha256(token)}`  | `META`           | a password reset link (TTL = expiry)       |
//!
//! Only hashes of tokens are stored: a leaked table opens nothing.

use serde::{Deserialize, Serialize};

use super::agents::{self, normalize_email, session_id, Agent, Role};
use super::{Condition, Item, LocalStore, Query, StoreError, StoreResult, Write};

/// How long an invitation link works.
pub const INVITATION_TTL_SECS: u64 = 7 * 24 * 3600;
/// How long a password reset link works.
pub const RESET_TTL_SECS: u64 = 3600;

/// An invitation to be one account's agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub account_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The inviting admin's name (shown to the invitee).
    pub invited_by: String,
    /// Unix seconds.
    pub expires_at: u64,
}

fn invite_pk(token: &str) -> String {
    format!("INVITE#{}", session_id(token))
}
fn account_pk(account_id: &str) -> String {
    format!("ACCOUNT#{account_id}")
}
fn reset_pk(token: &str) -> String {
    format!("RESET#{}", session_id(token))
}

/// The writes that spend the single-use link stored at `pk`/`META`: a `USED` marker that
/// must not exist yet (so two uses at once cannot both succeed), kept until `until`, and
/// the link gone. For reset, invitation and transcript links alike.
pub(crate) fn spend(pk: &str, until: u64) -> StoreResult<[Write; 2]> {
    Ok([
        Write::Put {
            item: Item::of(pk, "USED", &serde_json::json!({}))?.with_expiry(until),
            condition: Condition::NotExists,
        },
        Write::Delete {
            pk: pk.to_string(),
            sk: "META".into(),
        },
    ])
}

/// Stores an invitation under `token` (which goes to the invitee only), replacing any
/// earlier one of the account to the same address (its link stops working).
pub async fn create<S: LocalStore + ?Sized>(
    store: &S,
    invitation: &Invitation,
    token: &str,
) -> StoreResult<()> {
    let email = normalize_email(&invitation.email);
    let invitation = Invitation {
        email: email.clone(),
        ..invitation.clone()
    };
    let index_sk = format!("INVITE#{email}");
    let mut writes = Vec::new();
    if let Some(old) = store
        .get(&account_pk(&invitation.account_id), &index_sk)
        .await?
    {
        if let Some(hash) = old.str("token_hash") {
            writes.push(Write::Delete {
                pk: format!("INVITE#{hash}"),
                sk: "META".into(),
            });
        }
    }
    let mut index = Item::of(account_pk(&invitation.account_id), index_sk, &invitation)?;
    index
        .attrs
        .insert("token_hash".into(), session_id(token).into());
    writes.push(Write::Put {
        item: index.with_expiry(invitation.expires_at),
        condition: Condition::Always,
    });
    writes.push(Write::Put {
        item: Item::of(invite_pk(token), "META", &invitation)?.with_expiry(invitation.expires_at),
        condition: Condition::NotExists,
    });
    store.transact(writes).await
}

/// The invitation behind a link; `None` if unknown, expired, used or revoked.
pub async fn by_token<S: LocalStore + ?Sized>(
    store: &S,
    token: &str,
    now_secs: u64,
) -> StoreResult<Option<Invitation>> {
    match store.get(&invite_pk(token), "META").await? {
        Some(item) if !item.is_expired(now_secs) => item.decode().map(Some),
        _ => Ok(None),
    }
}

/// The account's pending invitations (unexpired), by e-mail.
pub async fn of_account<S: LocalStore + ?Sized>(
    store: &S,
    account_id: &str,
    now_secs: u64,
) -> StoreResult<Vec<Invitation>> {
    let page = store
        .query(Query::prefix(account_pk(account_id), "INVITE#").limit(1000))
        .await?;
    page.items
        .iter()
        .filter(|item| !item.is_expired(now_secs))
        .map(Item::decode)
        .collect()
}

/// Withdraws the account's invitation to `email` (its link stops working).
pub async fn revoke<S: LocalStore + ?Sized>(
    store: &S,
    account_id: &str,
    email: &str,
) -> StoreResult<bool> {
    let index_sk = format!("INVITE#{}", normalize_email(email));
    let Some(index) = store.get(&account_pk(account_id), &index_sk).await? else {
        return Ok(false);
    };
    let mut writes = vec![Write::Delete {
        pk: account_pk(account_id),
        sk: index_sk,
    }];
    if let Some(hash) = index.str("token_hash") {
        writes.push(Write::Delete {
            pk: format!("INVITE#{hash}"),
            sk: "META".into(),
        });
    }
    store.transact(writes).await?;
    Ok(true)
}

/// Uses the link: `agent` joins the invitation's account, the person is created with
/// `new_person_hash` when they are new, and the link is spent — all in one transaction,
/// so a link works once even when used twice at the same moment (`ConditionFailed`).
pub async fn accept<S: LocalStore + ?Sized>(
    store: &S,
    token: &str,
    invitation: &Invitation,
    agent: &Agent,
    new_person_hash: Option<&str>,
) -> StoreResult<()> {
    let mut writes = agents::agent_writes(agent, new_person_hash)?;
    writes.extend(spend(&invite_pk(token), invitation.expires_at)?);
    writes.push(Write::Delete {
        pk: account_pk(&agent.account_id),
        sk: format!("INVITE#{}", normalize_email(&agent.email)),
    });
    store.transact(writes).await
}

/// A password reset link for the person with `email`.
pub async fn create_reset<S: LocalStore + ?Sized>(
    store: &S,
    email: &str,
    token: &str,
    expires_at: u64,
) -> StoreResult<()> {
    let item = Item::of(
        reset_pk(token),
        "META",
        &serde_json::json!({ "email": normalize_email(email) }),
    )?
    .with_expiry(expires_at);
    store.put(item, Condition::NotExists).await
}

/// Spends a reset link: the e-mail it was for, or `None` if unknown, expired or used
/// (once only, even when two requests race).
pub async fn take_reset<S: LocalStore + ?Sized>(
    store: &S,
    token: &str,
    now_secs: u64,
) -> StoreResult<Option<String>> {
    let Some(item) = store.get(&reset_pk(token), "META").await? else {
        return Ok(None);
    };
    if item.is_expired(now_secs) {
        return Ok(None);
    }
    let spent = store
        .transact(spend(&reset_pk(token), now_secs + RESET_TTL_SECS)?.to_vec())
        .await;
    match spent {
        Ok(()) => Ok(item.str("email").map(str::to_string)),
        // Used at the same moment by another request.
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(e) => Err(e),
    }
}
