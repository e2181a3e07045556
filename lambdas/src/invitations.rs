//! Joining an account and getting back in (A1): invitations and password resets, each a
//! single-use link sent by the platform's own mailer to the address alone
//! (`store::invitations`). Sign-in identities are global, so an admin never learns a
//! credential: an invitation grants its seat only when its link is used — by a new person
//! choosing a password, or by someone who already signs in, with their own password — and
//! the answer to "invite" is the same whether the address signs in elsewhere or not.

use crate::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use vitrine_core::codec;
use vitrine_core::protocol::http::{
    AcceptInvitation, ForgotPassword, InvitationView, InviteInput, Invited, LinkToken,
    PendingInvitation, ResetPassword, TranscriptConfirmation,
};
use vitrine_core::store::agents::{self, Agent};
use vitrine_core::store::invitations::{self, Invitation, INVITATION_TTL_SECS, RESET_TTL_SECS};
use vitrine_core::store::mail;
use vitrine_core::store::{accounts, StoreError};

use crate::auth::{
    argon2_blocking, check_new_password, check_throttle, count_failure, new_token, now_secs,
    sign_in, verify_password, ClientAddress,
};
use crate::{hash_password, ApiError, ApiState, Backend, CurrentAgent};

/// Reset e-mails one address may be sent per hour, and one network address may ask for.
const RESETS_PER_EMAIL: u64 = 3;
const RESETS_PER_ADDRESS: u64 = 10;

fn listed(invitation: &Invitation) -> PendingInvitation {
    PendingInvitation {
        email: invitation.email.clone(),
        name: invitation.name.clone(),
        role: invitation.role,
        invited_by: invitation.invited_by.clone(),
        expires_at: invitation.expires_at,
    }
}

/// The link's full address for an e-mail: on the configured portal, never on a host a
/// request named (anyone may ask for a reset e-mail; its link must not point elsewhere).
fn link<S, B>(state: &ApiState<S, B>, path: &str) -> Option<String> {
    let base = state.portal_url.as_deref()?.trim_end_matches('/');
    Some(format!("{base}{path}"))
}

fn bad_token() -> ApiError {
    ApiError::not_found("this link is no longer valid (used, withdrawn or expired)")
}

/// `POST /api/admin/agents`: invites someone to be an agent, expert or admin.
pub async fn invite<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Json(input): Json<InviteInput>,
) -> Result<(StatusCode, Json<Invited>), ApiError> {
    me.require_admin()?;
    codec::validate_text("name", &input.name, 120).map_err(|e| ApiError::bad_request(e.message))?;
    let email = agents::normalize_email(&input.email);
    if email.is_empty() {
        return Err(ApiError::bad_request("email must not be empty"));
    }
    codec::validate_email(&email)
        .map_err(|_| ApiError::bad_request("email is not an e-mail address"))?;
    let account = &me.agent.account_id;
    // Only this account's own agents are told apart: where else the address works is
    // none of its admins' business.
    if agents::account_agents(&state.store, account)
        .await?
        .iter()
        .any(|a| a.email == email)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "email_taken",
            "this account already has an agent with this e-mail",
        ));
    }
    let invitation = Invitation {
        account_id: account.clone(),
        email: email.clone(),
        name: input.name.trim().to_string(),
        role: input.role,
        invited_by: me.agent.name.clone(),
        expires_at: now_secs() + INVITATION_TTL_SECS,
    };
    let token = new_token();
    invitations::create(&state.store, &invitation, &token).await?;
    let path = format!("/portal/#invite={token}");
    let (mut emailed, mut email_error, mut link_path) = (false, None, None);
    match (&state.platform_mail, link(&state, &path)) {
        (Some(mailer), Some(url)) => {
            let account_name = accounts::get_account(&state.store, account)
                .await?
                .map_or_else(|| account.clone(), |a| a.name);
            match mailer
                .send_invitation(&email, &account_name, &invitation.invited_by, &url)
                .await
            {
                Ok(()) => emailed = true,
                Err(e) => email_error = Some(e.to_string()),
            }
        }
        // An install without e-mail (a local one): the admin passes the link on. It
        // grants a seat in this account only; for an address that already signs in, it
        // still takes that person's password.
        _ => link_path = Some(path),
    }
    Ok((
        StatusCode::CREATED,
        Json(Invited {
            invitation: listed(&invitation),
            emailed,
            link_path,
            email_error,
        }),
    ))
}

/// `GET /api/admin/invitations`: the account's pending invitations.
pub async fn pending<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
) -> Result<Json<Vec<PendingInvitation>>, ApiError> {
    me.require_admin()?;
    let list = invitations::of_account(&state.store, &me.agent.account_id, now_secs()).await?;
    Ok(Json(list.iter().map(listed).collect()))
}

/// `DELETE /api/admin/invitations/{email}`: withdraws one; its link stops working.
pub async fn revoke<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path(email): Path<String>,
) -> Result<StatusCode, ApiError> {
    me.require_admin()?;
    match invitations::revoke(&state.store, &me.agent.account_id, &email).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found("no pending invitation to this address")),
    }
}

async fn invitation_of<S: Backend, B>(
    state: &ApiState<S, B>,
    token: &str,
) -> Result<Invitation, ApiError> {
    if token.len() > 128 {
        return Err(bad_token());
    }
    invitations::by_token(&state.store, token, now_secs())
        .await?
        .ok_or_else(bad_token)
}

/// `POST /api/invitation`: what a link offers (the invitee's page).
pub async fn view<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    Json(LinkToken { token }): Json<LinkToken>,
) -> Result<Json<InvitationView>, ApiError> {
    let invitation = invitation_of(&state, &token).await?;
    let account_name = accounts::get_account(&state.store, &invitation.account_id)
        .await?
        .map_or_else(|| invitation.account_id.clone(), |a| a.name);
    let has_sign_in = agents::person(&state.store, &invitation.email)
        .await?
        .is_some();
    Ok(Json(InvitationView {
        account_name,
        email: invitation.email,
        name: invitation.name,
        role: invitation.role,
        invited_by: invitation.invited_by,
        has_sign_in,
    }))
}

/// `POST /api/invitation/accept`: the link's holder joins the account and is signed in to
/// it. Someone who already signs in proves it with their password (throttled as a
/// sign-in); someone new chooses theirs.
pub async fn accept<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    ClientAddress(address): ClientAddress,
    Json(req): Json<AcceptInvitation>,
) -> Result<Response, ApiError> {
    if req.password.len() > 1024 {
        return Err(ApiError::bad_request("the password is too long"));
    }
    let invitation = invitation_of(&state, &req.token).await?;
    let email = invitation.email.clone();
    let person = agents::person(&state.store, &email).await?;
    let new_hash = match person {
        Some(person) => {
            check_throttle(&state.store, &email, &address).await?;
            let (password, hash) = (req.password.clone(), person.password_hash);
            if !argon2_blocking(move || verify_password(&password, &hash)).await? {
                count_failure(&state.store, &email, &address).await?;
                return Err(ApiError::unauthorized(
                    "wrong password: this address already signs in to Vitrine; use that \
                     password (or reset it from the sign-in page)",
                ));
            }
            None
        }
        None => {
            check_new_password(&req.password)?;
            let password = req.password.clone();
            Some(argon2_blocking(move || hash_password(&password)).await?)
        }
    };
    let agent = Agent {
        agent_id: format!("agent-{}", crate::admin::random_hex(8)),
        email,
        account_id: invitation.account_id.clone(),
        name: invitation.name.clone(),
        role: invitation.role,
    };
    match invitations::accept(
        &state.store,
        &req.token,
        &invitation,
        &agent,
        new_hash.as_deref(),
    )
    .await
    {
        Ok(()) => sign_in(&state, &agent).await,
        // Used twice at once, or the account gained this agent (or the person) meanwhile.
        Err(StoreError::ConditionFailed) => Err(bad_token()),
        Err(e) => Err(e.into()),
    }
}

/// `POST /api/password/forgot`: e-mails a reset link to the address if it signs in;
/// answers the same either way.
pub async fn forgot<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    ClientAddress(address): ClientAddress,
    Json(req): Json<ForgotPassword>,
) -> Result<StatusCode, ApiError> {
    let email = agents::normalize_email(&req.email);
    if email.len() > 320 || codec::validate_email(&email).is_err() {
        return Err(ApiError::bad_request("email is not an e-mail address"));
    }
    let Some(mailer) = state.platform_mail.clone() else {
        return Err(ApiError::unavailable(
            "no_mail",
            "this Vitrine cannot send e-mail; ask your administrator to reset your password",
        ));
    };
    let window_end = now_secs() + 3600;
    for (sk, limit) in [
        (format!("EMAIL#{email}"), RESETS_PER_EMAIL),
        (format!("ADDRESS#{address}"), RESETS_PER_ADDRESS),
    ] {
        if state.store.incr("THROTTLE#reset", &sk, window_end).await? > limit {
            return Err(ApiError::too_many(
                "too many reset e-mails asked for; try again in an hour",
                3600,
            ));
        }
    }
    if agents::person(&state.store, &email).await?.is_some() {
        let token = new_token();
        invitations::create_reset(&state.store, &email, &token, now_secs() + RESET_TTL_SECS)
            .await?;
        let url = link(&state, &format!("/portal/#reset={token}")).ok_or_else(|| {
            ApiError::unavailable("no_mail", "the portal's address is not configured")
        })?;
        if let Err(e) = mailer.send_reset(&email, &url).await {
            tracing::warn!(error = %e, "a reset e-mail was not sent");
        }
    }
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/password/reset`: a new password with a reset link; every session of the
/// person, in every account, ends.
pub async fn reset<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    Json(req): Json<ResetPassword>,
) -> Result<StatusCode, ApiError> {
    check_new_password(&req.password)?;
    if req.token.len() > 128 {
        return Err(bad_token());
    }
    let email = invitations::take_reset(&state.store, &req.token, now_secs())
        .await?
        .ok_or_else(bad_token)?;
    crate::auth::set_password(&state, &email, &req.password, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/transcript`: what a transcript confirmation link would send (K3).
pub async fn transcript<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    Json(LinkToken { token }): Json<LinkToken>,
) -> Result<Json<TranscriptConfirmation>, ApiError> {
    if token.len() > 128 {
        return Err(bad_token());
    }
    let pending = mail::confirmation(&state.store, &token, now_secs())
        .await?
        .ok_or_else(bad_token)?;
    let site_name = accounts::get_site(&state.store, &pending.site)
        .await?
        .map_or(pending.site, |s| s.name);
    Ok(Json(TranscriptConfirmation {
        site_name,
        email: pending.to,
    }))
}

/// `POST /api/transcript/confirm`: the address's owner wants it: the transcript is queued.
pub async fn confirm_transcript<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    Json(LinkToken { token }): Json<LinkToken>,
) -> Result<StatusCode, ApiError> {
    if token.len() > 128 {
        return Err(bad_token());
    }
    mail::confirm(&state.store, &token, vitrine_core::clock::now_ms())
        .await?
        .ok_or_else(bad_token)?;
    Ok(StatusCode::ACCEPTED)
}
