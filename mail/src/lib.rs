//! E-mail over SMTP (K3), with each account's own server ([`SmtpSettings`]).
//!
//! - [`drain`]: the mailer. Sends what the hubs queued in the outbox (transcripts, answers
//!   to visitors who had gone), writes each outcome on the contact's card, retries what
//!   failed for a reason that may pass (a refused connection, a 4xx reply) with a backoff.
//!   The local server runs it every second; on AWS a scheduled Lambda does.
//! - [`send_invitation`]: a new agent's one-time password, sent by the API at once so the
//!   admin hears whether it went.
//!
//! Text is plain UTF-8; what agents and visitors wrote is quoted as it was, never as HTML.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use vitrine_core::clock::UnixMillis;

/// An address with an optional name, as the sender setting is written.
pub use lettre::message::Mailbox;
use vitrine_core::protocol::{Author, ChatMessage, MessageBody};
use vitrine_core::store::mail::{
    self, MailContent, Outcome, OutgoingMail, SmtpSecurity, SmtpSettings, MAX_ATTEMPTS,
};
use vitrine_core::store::{accounts, conversations, LocalStore, StoreResult};

/// How long one SMTP exchange may take before the try counts as failed (and is retried).
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);
/// Messages a transcript holds at most (the oldest are left out beyond it).
const TRANSCRIPT_MESSAGES: u32 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The settings or the message cannot work (bad address, no SMTP server): trying again
    /// changes nothing.
    #[error("{0}")]
    Permanent(String),
    /// The server or the network failed this time.
    #[error("{0}")]
    Transient(String),
}

fn transport(settings: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let host = settings.host.as_str();
    let tls = || {
        TlsParameters::new(host.to_string())
            .map_err(|e| MailError::Permanent(format!("TLS for {host}: {e}")))
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(settings.port)
        .timeout(Some(SMTP_TIMEOUT));
    builder = match settings.security {
        SmtpSecurity::None => builder.tls(Tls::None),
        SmtpSecurity::StartTls => builder.tls(Tls::Required(tls()?)),
        SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls()?)),
    };
    if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// A plain-text e-mail from the account's sender.
pub fn message(
    settings: &SmtpSettings,
    to: &str,
    subject: &str,
    text: String,
) -> Result<Message, MailError> {
    let from: Mailbox = settings
        .from
        .parse()
        .map_err(|e| MailError::Permanent(format!("the sender {:?}: {e}", settings.from)))?;
    let to: Mailbox = to
        .parse()
        .map_err(|e| MailError::Permanent(format!("the address {to:?}: {e}")))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(text)
        .map_err(|e| MailError::Permanent(e.to_string()))
}

pub async fn send(settings: &SmtpSettings, message: Message) -> Result<(), MailError> {
    let transport = transport(settings)?;
    match transport.send(message).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() => Err(MailError::Permanent(e.to_string())),
        Err(e) => Err(MailError::Transient(e.to_string())),
    }
}

/// What [`drain`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    pub sent: u32,
    pub failed: u32,
    pub retried: u32,
}

/// Sends up to `limit` due e-mails of the outbox, one by one.
pub async fn drain<S: LocalStore + ?Sized>(
    store: &S,
    now: UnixMillis,
    limit: u32,
) -> StoreResult<Drained> {
    let mut drained = Drained::default();
    for outgoing in mail::due(store, now, limit).await? {
        let outcome = match try_send(store, &outgoing).await? {
            Ok(()) => Outcome::Sent,
            Err(MailError::Transient(e)) if outgoing.attempts + 1 < MAX_ATTEMPTS => {
                Outcome::Retry(e)
            }
            Err(MailError::Permanent(e) | MailError::Transient(e)) => Outcome::Failed(e),
        };
        match &outcome {
            Outcome::Sent => drained.sent += 1,
            Outcome::Failed(e) => {
                drained.failed += 1;
                tracing::warn!(mail = %outgoing.mail_id, error = %e, "e-mail not sent");
            }
            Outcome::Retry(e) => {
                drained.retried += 1;
                tracing::info!(mail = %outgoing.mail_id, error = %e, "e-mail to retry");
            }
        }
        mail::finish(store, &outgoing, &outcome, now).await?;
    }
    Ok(drained)
}

/// One try: store errors stop the drain (`Err`); mail errors are the try's outcome.
async fn try_send<S: LocalStore + ?Sized>(
    store: &S,
    outgoing: &OutgoingMail,
) -> StoreResult<Result<(), MailError>> {
    let Some(site) = accounts::get_site(store, &outgoing.site).await? else {
        return Ok(Err(MailError::Permanent(
            "the site no longer exists".into(),
        )));
    };
    let Some(settings) = mail::smtp_settings(store, &site.account_id).await? else {
        return Ok(Err(MailError::Permanent(
            "the account has no SMTP server (Admin → E-mail)".into(),
        )));
    };
    let subject = outgoing.content.subject(&site.name);
    let text = match &outgoing.content {
        MailContent::Transcript { conversation_id } => {
            let messages = conversations::messages_after(
                store,
                &outgoing.site,
                conversation_id,
                0,
                TRANSCRIPT_MESSAGES,
            )
            .await?;
            transcript_text(&site.name, &messages)
        }
        MailContent::Answer { agent, text, .. } => answer_text(&site.name, agent, text),
    };
    let message = match message(&settings, &outgoing.to, &subject, text) {
        Ok(message) => message,
        Err(e) => return Ok(Err(e)),
    };
    Ok(send(&settings, message).await)
}

fn when(at: UnixMillis) -> String {
    chrono::DateTime::from_timestamp_millis(at as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn body_text(body: &MessageBody) -> String {
    match body {
        MessageBody::Text { text } | MessageBody::Event { text, .. } => text.clone(),
        MessageBody::Image { .. } => "[an image]".into(),
        MessageBody::Offer {
            title,
            text,
            link_url,
            ..
        } => format!("{title}: {text}\n{link_url}"),
        MessageBody::Product {
            name, price, url, ..
        } => format!("{name} ({price})\n{url}"),
    }
}

/// The conversation as the visitor saw it: who said what, when.
pub fn transcript_text(site_name: &str, messages: &[ChatMessage]) -> String {
    let mut text = format!("Your conversation with {site_name}\n\n");
    for m in messages {
        let who = match &m.author {
            Author::Visitor => "You".to_string(),
            Author::Agent { name, .. } => name.clone(),
            Author::System => "·".to_string(),
        };
        text.push_str(&format!("{} — {who}\n", when(m.at)));
        for line in body_text(&m.body).lines() {
            text.push_str(&format!("  {line}\n"));
        }
        text.push('\n');
    }
    text
}

pub fn answer_text(site_name: &str, agent: &str, answer: &str) -> String {
    format!(
        "{agent} of {site_name} answered the message you left:\n\n{answer}\n\n\
         Reply on our website: the conversation is waiting for you there.\n"
    )
}

/// What a new agent needs to sign in the first time.
pub struct Invitation<'a> {
    pub account_name: &'a str,
    pub agent_name: &'a str,
    pub email: &'a str,
    pub one_time_password: &'a str,
    pub portal_url: &'a str,
}

pub async fn send_invitation(
    settings: &SmtpSettings,
    invitation: &Invitation<'_>,
) -> Result<(), MailError> {
    let text = format!(
        "Hello {},\n\nYou are invited to answer the visitors of {} on Vitrine.\n\n\
         Sign in at {} with\n  e-mail: {}\n  one-time password: {}\n\n\
         You will choose your own password then; this one works once.\n",
        invitation.agent_name,
        invitation.account_name,
        invitation.portal_url,
        invitation.email,
        invitation.one_time_password
    );
    let subject = format!("Your invitation to {} on Vitrine", invitation.account_name);
    send(
        settings,
        message(settings, invitation.email, &subject, text)?,
    )
    .await
}

/// Sends a test e-mail (Admin → E-mail → Send a test).
pub async fn send_test(settings: &SmtpSettings, to: &str) -> Result<(), MailError> {
    let text = "Vitrine can send e-mail with these settings.\n".to_string();
    send(
        settings,
        message(settings, to, "Vitrine: test e-mail", text)?,
    )
    .await
}
