//! The account's SMTP server (K3): admins set it, test it, remove it. The password is
//! written, never read back.

use crate::Json;
use axum::extract::State;
use axum::http::StatusCode;
use vitrine_core::protocol::http::{MailSettingsInput, MailSettingsView, MailTestInput};
use vitrine_core::store::mail::{self, SmtpSecurity, SmtpSettings};
use vitrine_mail::MailError;

use crate::{ApiError, ApiState, Backend, CurrentAgent};

fn view(settings: Option<SmtpSettings>) -> MailSettingsView {
    match settings {
        Some(s) => MailSettingsView {
            configured: true,
            host: s.host,
            port: s.port,
            security: s.security,
            username: s.username,
            has_password: s.password.is_some(),
            from: s.from,
        },
        None => MailSettingsView {
            configured: false,
            host: String::new(),
            port: 587,
            security: SmtpSecurity::StartTls,
            username: None,
            has_password: false,
            from: String::new(),
        },
    }
}

pub async fn get<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
) -> Result<Json<MailSettingsView>, ApiError> {
    me.require_admin()?;
    let settings = mail::smtp_settings(&state.store, &me.agent.account_id).await?;
    Ok(Json(view(settings)))
}

fn validate(input: &MailSettingsInput) -> Result<(), ApiError> {
    let host = input.host.trim();
    if host.is_empty() || host.len() > 253 || host.contains(|c: char| c.is_whitespace()) {
        return Err(ApiError::bad_request("host must be a host name or address"));
    }
    if input.port == 0 {
        return Err(ApiError::bad_request("port must be 1–65535"));
    }
    for (what, value) in [("username", &input.username), ("password", &input.password)] {
        if value.as_ref().is_some_and(|v| v.chars().count() > 200) {
            return Err(ApiError::bad_request(format!(
                "{what} must be at most 200 characters"
            )));
        }
    }
    if input.from.len() > 320 || input.from.trim().parse::<vitrine_mail::Mailbox>().is_err() {
        return Err(ApiError::bad_request(
            "from must be an address, or a name and <address>",
        ));
    }
    Ok(())
}

pub async fn put<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Json(input): Json<MailSettingsInput>,
) -> Result<Json<MailSettingsView>, ApiError> {
    me.require_admin()?;
    validate(&input)?;
    let host = input.host.trim();
    if let Err(e) = vitrine_mail::check_host(host, input.port, state.mail_private_hosts).await {
        return Err(ApiError::bad_request(format!("host: {e}")));
    }
    let account = &me.agent.account_id;
    let stored = mail::smtp_settings(&state.store, account).await?;
    let password = match input.password {
        None => stored.and_then(|s| s.password),
        Some(p) if p.is_empty() => None,
        Some(p) => Some(p),
    };
    let settings = SmtpSettings {
        host: input.host.trim().to_string(),
        port: input.port,
        security: input.security,
        username: input
            .username
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty()),
        password,
        from: input.from.trim().to_string(),
    };
    mail::set_smtp_settings(&state.store, account, &settings).await?;
    Ok(Json(view(Some(settings))))
}

pub async fn delete<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
) -> Result<StatusCode, ApiError> {
    me.require_admin()?;
    mail::delete_smtp_settings(&state.store, &me.agent.account_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn not_sent(e: MailError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "mail_failed",
        format!("the SMTP server did not take it: {e}"),
    )
}

pub async fn test<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Json(input): Json<MailTestInput>,
) -> Result<StatusCode, ApiError> {
    me.require_admin()?;
    vitrine_core::codec::validate_email(input.to.trim())
        .map_err(|_| ApiError::bad_request("to is not an e-mail address"))?;
    let Some(settings) = mail::smtp_settings(&state.store, &me.agent.account_id).await? else {
        return Err(ApiError::bad_request("set up the SMTP server first"));
    };
    vitrine_mail::send_test(&settings, input.to.trim(), state.mail_private_hosts)
        .await
        .map_err(not_sent)?;
    Ok(StatusCode::NO_CONTENT)
}
