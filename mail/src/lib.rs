//! E-mail over SMTP (K3), with each account's own server ([`SmtpSettings`]).
//!
//! - [`drain`]: the mailer. Sends what the hubs queued in the outbox (transcripts, answers
//!   to visitors who had gone), writes each outcome on the contact's card, retries what
//!   failed for a reason that may pass (a refused connection, a 4xx reply) with a backoff.
//!   The local server runs it every second; on AWS a scheduled Lambda does.
//!   Each account's mail is a lane of its own: lanes are sent side by side, a lane stops
//!   at its first failure that may pass, and every exchange has a deadline, so a tenant
//!   whose server never answers holds up no one else's e-mail.
//! - [`PlatformMailer`]: the operator's own server, for what only the platform may send —
//!   invitations, password resets, "your password changed" — never a tenant's server
//!   (whose admin could read what goes through it).
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

/// How long one SMTP command may take (lettre's socket timeout).
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one whole e-mail may take, connecting and greeting included (a server that
/// accepts the connection and never speaks must not hold a lane longer).
pub const SEND_DEADLINE: Duration = Duration::from_secs(20);
/// Lanes (accounts) sent side by side in one drain.
const LANES: usize = 16;
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

/// Whether an address is one a tenant's server may not be on (unless allowed).
pub fn is_private(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 // 100.64/10, CGNAT
                || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
        }
    }
}

/// Refuses a tenant's SMTP host that is, or resolves to, a loopback, private or link-local
/// address (checked when saved and again at every send: a name may resolve elsewhere
/// later), unless the operator allows them (`private_hosts`: a relay on the platform's own
/// network; tests). Otherwise an admin could map the platform's network by "send a test".
pub async fn check_host(host: &str, port: u16, private_hosts: bool) -> Result<(), MailError> {
    if private_hosts {
        return Ok(());
    }
    let addresses = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| MailError::Transient(format!("{host}: {e}")))?;
    for address in addresses {
        if is_private(address.ip()) {
            return Err(MailError::Permanent(format!(
                "{host} is on a private network address ({}); use a public mail server",
                address.ip()
            )));
        }
    }
    Ok(())
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

/// Sends through a tenant's server (its host checked, see [`check_host`]).
pub async fn send(
    settings: &SmtpSettings,
    message: Message,
    private_hosts: bool,
) -> Result<(), MailError> {
    check_host(&settings.host, settings.port, private_hosts).await?;
    send_unchecked(settings, message).await
}

async fn send_unchecked(settings: &SmtpSettings, message: Message) -> Result<(), MailError> {
    let transport = transport(settings)?;
    match tokio::time::timeout(SEND_DEADLINE, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.is_permanent() => Err(MailError::Permanent(e.to_string())),
        Ok(Err(e)) => Err(MailError::Transient(e.to_string())),
        Err(_) => Err(MailError::Transient(format!(
            "the server at {}:{} did not finish within {} s",
            settings.host,
            settings.port,
            SEND_DEADLINE.as_secs()
        ))),
    }
}

/// What [`drain`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    pub sent: u32,
    pub failed: u32,
    pub retried: u32,
}

/// The outbox's mailer: what it links to, whether tenants' servers may be private, and
/// the lanes it is sending on now (a drain that starts while another is still sending
/// skips those accounts: the local server starts one every second).
#[derive(Default)]
pub struct Mailer {
    /// The portal's address, for the links confirmation e-mails carry.
    pub portal_url: Option<String>,
    /// See [`check_host`].
    pub private_hosts: bool,
    lanes: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Mailer {
    pub fn new(portal_url: Option<String>, private_hosts: bool) -> Self {
        Self {
            portal_url,
            private_hosts,
            lanes: Default::default(),
        }
    }
    fn take(&self, lane: &str) -> bool {
        self.lanes
            .lock()
            .expect("not poisoned")
            .insert(lane.to_string())
    }
    fn give_back(&self, lane: &str) {
        self.lanes.lock().expect("not poisoned").remove(lane);
    }
}

/// Sends up to `limit` due e-mails of the outbox: one lane per account, lanes side by
/// side. Each e-mail is claimed (its next try scheduled) before it is sent, so one whose
/// sending never ends — a server that hangs, a Lambda that times out — waits its backoff
/// instead of being retried at once, forever, in front of the others.
pub async fn drain<S: LocalStore + ?Sized>(
    store: &S,
    now: UnixMillis,
    limit: u32,
    mailer: &Mailer,
) -> StoreResult<Drained> {
    use futures_util::stream::{self, StreamExt};
    let mut by_lane: Vec<(String, Vec<OutgoingMail>)> = Vec::new();
    for outgoing in mail::due(store, now, limit).await? {
        let lane = match accounts::get_site(store, &outgoing.site).await? {
            Some(site) => site.account_id,
            None => format!("site:{}", outgoing.site),
        };
        match by_lane.iter_mut().find(|(l, _)| *l == lane) {
            Some((_, mails)) => mails.push(outgoing),
            None => by_lane.push((lane, vec![outgoing])),
        }
    }
    let results: Vec<StoreResult<Drained>> = stream::iter(by_lane)
        .filter(|(lane, _)| std::future::ready(mailer.take(lane)))
        .map(|(lane, mails)| async move {
            let drained = drain_lane(store, now, mails, mailer).await;
            mailer.give_back(&lane);
            drained
        })
        .buffer_unordered(LANES)
        .collect()
        .await;
    let mut total = Drained::default();
    for drained in results {
        let drained = drained?;
        total.sent += drained.sent;
        total.failed += drained.failed;
        total.retried += drained.retried;
    }
    Ok(total)
}

/// One account's due e-mails, in order, until one fails for a reason that may pass (its
/// server is unwell: the rest wait for the next drain).
async fn drain_lane<S: LocalStore + ?Sized>(
    store: &S,
    now: UnixMillis,
    mails: Vec<OutgoingMail>,
    mailer: &Mailer,
) -> StoreResult<Drained> {
    let mut drained = Drained::default();
    for outgoing in mails {
        // Another drain may have sent it meanwhile.
        let Some(outgoing) = mail::claim(store, &outgoing.mail_id, now).await? else {
            continue;
        };
        let outcome = match try_send(store, &outgoing, now, mailer).await? {
            Ok(()) => Outcome::Sent,
            Err(MailError::Transient(e)) if outgoing.attempts < MAX_ATTEMPTS => Outcome::Retry(e),
            Err(MailError::Permanent(e) | MailError::Transient(e)) => Outcome::Failed(e),
        };
        let stop = matches!(outcome, Outcome::Retry(_));
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
        if stop {
            break;
        }
    }
    Ok(drained)
}

/// One try: store errors stop the drain (`Err`); mail errors are the try's outcome.
async fn try_send<S: LocalStore + ?Sized>(
    store: &S,
    outgoing: &OutgoingMail,
    now: UnixMillis,
    mailer: &Mailer,
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
    // What visitors set off is capped per site and day (counted once per e-mail).
    let visitors = matches!(
        outgoing.content,
        MailContent::Transcript { .. } | MailContent::ConfirmTranscript { .. }
    );
    if visitors
        && outgoing.attempts == 1
        && !mail::within_daily_cap(store, &outgoing.site, now).await?
    {
        return Ok(Err(MailError::Permanent(format!(
            "the site's daily limit of {} e-mails asked for by visitors is reached",
            mail::VISITOR_MAILS_PER_SITE_DAY
        ))));
    }
    let text = match &outgoing.content {
        MailContent::ConfirmTranscript { conversation_id } => {
            let Some(portal) = &mailer.portal_url else {
                return Ok(Err(MailError::Permanent(
                    "the portal's address is not configured (VITRINE_PORTAL_URL)".into(),
                )));
            };
            let token = random_token();
            let pending = mail::PendingTranscript {
                site: outgoing.site.clone(),
                conversation_id: conversation_id.clone(),
                to: outgoing.to.clone(),
            };
            mail::create_confirmation(store, &token, &pending, now / 1000 + mail::CONFIRM_TTL_SECS)
                .await?;
            confirm_text(
                &site.name,
                &format!(
                    "{}/portal/#transcript={token}",
                    portal.trim_end_matches('/')
                ),
            )
        }
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
    Ok(send(&settings, message, mailer.private_hosts).await)
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

/// The confirmation: fixed words and a link, nothing a visitor wrote.
pub fn confirm_text(site_name: &str, link: &str) -> String {
    format!(
        "Someone chatting with {site_name} asked for the conversation to be sent to this \
         address.\n\nIf it was you, open this link to receive it (it works once, for a day):\n  \
         {link}\n\nIf it was not you, ignore this e-mail: nothing more will be sent.\n"
    )
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS has a random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn answer_text(site_name: &str, agent: &str, answer: &str) -> String {
    format!(
        "{agent} of {site_name} answered the message you left:\n\n{answer}\n\n\
         Reply on our website: the conversation is waiting for you there.\n"
    )
}

/// The operator's own SMTP server: what only the platform sends (invitations, password
/// resets, account changes). Configured as a URL — `smtp://host:25` (plain, a relay),
/// `smtp+starttls://user:pass@host:587`, `smtps://user:pass@host:465` — and a sender.
#[derive(Debug, Clone)]
pub struct PlatformMailer {
    settings: SmtpSettings,
}

impl PlatformMailer {
    pub fn from_url(url: &str, from: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("the platform SMTP URL: {e}"))?;
        let (security, default_port) = match parsed.scheme() {
            "smtp" => (SmtpSecurity::None, 25),
            "smtp+starttls" => (SmtpSecurity::StartTls, 587),
            "smtps" => (SmtpSecurity::Tls, 465),
            other => return Err(format!("the platform SMTP URL: unknown scheme {other:?}")),
        };
        let host = parsed
            .host_str()
            .ok_or("the platform SMTP URL has no host")?
            .trim_matches(|c| c == '[' || c == ']')
            .to_string();
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let username = (!parsed.username().is_empty()).then(|| decode(parsed.username()));
        let password = parsed.password().map(decode);
        from.parse::<Mailbox>()
            .map_err(|e| format!("the platform sender {from:?}: {e}"))?;
        Ok(Self {
            settings: SmtpSettings {
                host,
                port: parsed.port().unwrap_or(default_port),
                security,
                username,
                password,
                from: from.to_string(),
            },
        })
    }

    /// The operator's own server: wherever they put it.
    pub async fn send(&self, to: &str, subject: &str, text: String) -> Result<(), MailError> {
        send_unchecked(&self.settings, message(&self.settings, to, subject, text)?).await
    }

    /// An invitation: the link is the only credential, and it goes to the invitee alone.
    pub async fn send_invitation(
        &self,
        to: &str,
        account_name: &str,
        invited_by: &str,
        link: &str,
    ) -> Result<(), MailError> {
        let text = format!(
            "Hello,\n\n{invited_by} invites you to answer the visitors of {account_name} on \
             Vitrine.\n\nAccept the invitation here (the link works once, for 7 days):\n  \
             {link}\n\nIf you already use Vitrine, you confirm with your password; otherwise \
             you choose one. If you did not expect this, ignore this e-mail: nothing happens \
             until the link is used.\n"
        );
        let subject = format!("Your invitation to {account_name} on Vitrine");
        self.send(to, &subject, text).await
    }

    /// A password reset link (asked for on the sign-in page).
    pub async fn send_reset(&self, to: &str, link: &str) -> Result<(), MailError> {
        let text = format!(
            "Someone asked to reset the password of your Vitrine sign-in ({to}).\n\n\
             Choose a new one here (the link works once, for an hour):\n  {link}\n\n\
             If it was not you, ignore this e-mail: your password stays as it is.\n"
        );
        self.send(to, "Reset your Vitrine password", text).await
    }

    /// Told after a password change or reset, so an unexpected one is noticed.
    pub async fn send_password_changed(&self, to: &str) -> Result<(), MailError> {
        let text = format!(
            "The password of your Vitrine sign-in ({to}) was just changed, and every other \
             session of yours was ended.\n\nIf it was not you, reset your password from the \
             sign-in page at once and tell your administrator.\n"
        );
        self.send(to, "Your Vitrine password was changed", text)
            .await
    }
}

/// Sends a test e-mail (Admin → E-mail → Send a test).
pub async fn send_test(
    settings: &SmtpSettings,
    to: &str,
    private_hosts: bool,
) -> Result<(), MailError> {
    let text = "Vitrine can send e-mail with these settings.\n".to_string();
    let message = message(settings, to, "Vitrine: test e-mail", text)?;
    send(settings, message, private_hosts).await
}
