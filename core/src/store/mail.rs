//! E-mail to contacts (K3): what waits to be sent, what was sent, and each account's SMTP
//! server.
//!
//! | pk                          | sk                | what                                    |
//! |-----------------------------|-------------------|-----------------------------------------|
//! | `OUTBOX`                    | `{mail}`          | an e-mail waiting to be sent (due time) |
//! | `CONTACT#{site}#{contact}`  | `EMAIL#{mail}`    | an e-mail to the contact and its status |
//! | `ACCOUNT#{account}`         | `SMTP`            | the account's SMTP server               |
//!
//! The hub cannot speak SMTP (it may run in a Worker), so it queues: one transaction puts
//! the outbox item and the contact's record (status `queued`). A mailer (a task of the
//! local server, a scheduled Lambda on AWS) sends what is due and writes the outcome on
//! the record. Mail ids start with the queue time, so the outbox and a contact's e-mails
//! read oldest first.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::contacts::contact_pk;
use super::{Condition, Item, LocalStore, Query, StoreError, StoreResult, Write};
use crate::clock::UnixMillis;

const OUTBOX: &str = "OUTBOX";
/// Tries before an e-mail is given up as failed (backoff 1, 2, 4, 8 minutes between).
pub const MAX_ATTEMPTS: u32 = 5;
/// E-mails a card shows (most recent first).
pub const CARD_EMAILS: u32 = 20;
/// Transcripts one conversation may send: a visitor asks once or twice, not a hundred times.
pub const MAX_TRANSCRIPTS: u8 = 3;
/// Answers by e-mail per conversation while the visitor is away.
pub const MAX_ANSWERS: u8 = 20;
/// E-mails a visitor can set off (transcripts and their confirmations) per site per day:
/// what one site's visitors can make it send to strangers is bounded.
pub const VISITOR_MAILS_PER_SITE_DAY: u64 = 200;
/// How long a transcript confirmation link works.
pub const CONFIRM_TTL_SECS: u64 = 24 * 3600;

/// Counts one e-mail a visitor set off for `site` today; `false` past the day's cap.
pub async fn within_daily_cap<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    now: UnixMillis,
) -> StoreResult<bool> {
    let day = now / 86_400_000;
    let n = store
        .incr(
            &format!("MAILCAP#{site}"),
            &day.to_string(),
            (day + 2) * 86_400,
        )
        .await?;
    Ok(n <= VISITOR_MAILS_PER_SITE_DAY)
}

/// A transcript its recipient must confirm: what the link in the confirmation opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTranscript {
    pub site: String,
    pub conversation_id: String,
    pub to: String,
}

fn confirm_pk(token: &str) -> String {
    format!("TRANSCRIPT#{}", super::agents::session_id(token))
}

/// Stores the link of a confirmation e-mail (only its hash).
pub async fn create_confirmation<S: LocalStore + ?Sized>(
    store: &S,
    token: &str,
    pending: &PendingTranscript,
    expires_at: u64,
) -> StoreResult<()> {
    let item = Item::of(confirm_pk(token), "META", pending)?.with_expiry(expires_at);
    store.put(item, Condition::NotExists).await
}

/// What a confirmation link asks for, if it still works.
pub async fn confirmation<S: LocalStore + ?Sized>(
    store: &S,
    token: &str,
    now_secs: u64,
) -> StoreResult<Option<PendingTranscript>> {
    match store.get(&confirm_pk(token), "META").await? {
        Some(item) if !item.is_expired(now_secs) => item.decode().map(Some),
        _ => Ok(None),
    }
}

/// Spends a confirmation link and queues the transcript it asked for, at once and once.
pub async fn confirm<S: LocalStore + ?Sized>(
    store: &S,
    token: &str,
    now: UnixMillis,
) -> StoreResult<Option<PendingTranscript>> {
    let Some(pending) = confirmation(store, token, now / 1000).await? else {
        return Ok(None);
    };
    let mail = OutgoingMail {
        mail_id: OutgoingMail::id(now, &pending.conversation_id, 900),
        site: pending.site.clone(),
        contact_id: None,
        to: pending.to.clone(),
        content: MailContent::Transcript {
            conversation_id: pending.conversation_id.clone(),
        },
        queued_at: now,
        attempts: 0,
        due_at: now,
    };
    let spend_link = super::invitations::spend(&confirm_pk(token), now / 1000 + CONFIRM_TTL_SECS)?;
    let spent = store
        .transact(vec![
            spend_link[0].clone(),
            spend_link[1].clone(),
            Write::Put {
                item: Item::of(OUTBOX, &mail.mail_id, &mail)?,
                condition: Condition::NotExists,
            },
        ])
        .await;
    match spent {
        Ok(()) => Ok(Some(pending)),
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What an e-mail says; the mailer writes the text from the store when it sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MailContent {
    /// The conversation's messages, asked for by the visitor.
    Transcript { conversation_id: String },
    /// Asks the owner of an address the visitor typed whether they want the transcript
    /// (a link); nothing the visitor wrote is in it.
    ConfirmTranscript { conversation_id: String },
    /// An agent answered a visitor who had gone (a left message, or they closed the tab).
    Answer {
        conversation_id: String,
        agent: String,
        text: String,
    },
}

impl MailContent {
    pub fn subject(&self, site_name: &str) -> String {
        match self {
            MailContent::Transcript { .. } => format!("Your conversation with {site_name}"),
            MailContent::ConfirmTranscript { .. } => {
                format!("Send you your conversation with {site_name}?")
            }
            MailContent::Answer { agent, .. } => format!("{agent} of {site_name} answered you"),
        }
    }

    pub fn conversation_id(&self) -> &str {
        match self {
            MailContent::Transcript { conversation_id }
            | MailContent::ConfirmTranscript { conversation_id }
            | MailContent::Answer {
                conversation_id, ..
            } => conversation_id,
        }
    }
}

/// An e-mail waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutgoingMail {
    pub mail_id: String,
    pub site: String,
    /// The contact it is recorded on (K3), when the recipient is one.
    pub contact_id: Option<String>,
    pub to: String,
    pub content: MailContent,
    pub queued_at: UnixMillis,
    #[serde(default)]
    pub attempts: u32,
    /// Not before this time (a retry's backoff).
    #[serde(default)]
    pub due_at: UnixMillis,
}

impl OutgoingMail {
    /// `n` tells apart e-mails of one conversation queued in the same millisecond.
    pub fn id(queued_at: UnixMillis, conversation_id: &str, n: u64) -> String {
        format!("{queued_at:013}-{conversation_id}-{n}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum MailStatus {
    Queued,
    Sent,
    Failed,
}

/// K3: an e-mail as the contact's card lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EmailRecord {
    pub mail_id: String,
    pub to: String,
    pub subject: String,
    pub status: MailStatus,
    pub queued_at: UnixMillis,
    /// When it was sent, or given up.
    pub done_at: Option<UnixMillis>,
    /// Why the last try failed (the SMTP server's words).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// STARTTLS on the submission port (587).
    StartTls,
    /// TLS from the first byte (465).
    Tls,
}

/// An account's SMTP server. The password is kept to log in with and never shown again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender: `Shop name <shop@example.com>` or a bare address.
    pub from: String,
}

fn account_pk(account_id: &str) -> String {
    format!("ACCOUNT#{account_id}")
}

pub async fn smtp_settings<S: LocalStore + ?Sized>(
    store: &S,
    account_id: &str,
) -> StoreResult<Option<SmtpSettings>> {
    match store.get(&account_pk(account_id), "SMTP").await? {
        Some(item) => item.decode().map(Some),
        None => Ok(None),
    }
}

pub async fn set_smtp_settings<S: LocalStore + ?Sized>(
    store: &S,
    account_id: &str,
    settings: &SmtpSettings,
) -> StoreResult<()> {
    let item = Item::of(account_pk(account_id), "SMTP", settings)?;
    store.put(item, Condition::Always).await
}

pub async fn delete_smtp_settings<S: LocalStore + ?Sized>(
    store: &S,
    account_id: &str,
) -> StoreResult<()> {
    store.delete(&account_pk(account_id), "SMTP").await
}

/// Queues an e-mail and, when it goes to a contact, records it on the card as `queued`.
pub async fn queue<S: LocalStore + ?Sized>(
    store: &S,
    mail: &OutgoingMail,
    subject: &str,
) -> StoreResult<()> {
    let mut mail = mail.clone();
    mail.due_at = mail.due_at.max(mail.queued_at);
    let mut writes = vec![Write::Put {
        item: Item::of(OUTBOX, &mail.mail_id, &mail)?,
        condition: Condition::NotExists,
    }];
    if let Some(contact_id) = &mail.contact_id {
        let record = EmailRecord {
            mail_id: mail.mail_id.clone(),
            to: mail.to.clone(),
            subject: subject.to_string(),
            status: MailStatus::Queued,
            queued_at: mail.queued_at,
            done_at: None,
            error: None,
        };
        writes.push(Write::Put {
            item: Item::of(
                contact_pk(&mail.site, contact_id),
                format!("EMAIL#{}", mail.mail_id),
                &record,
            )?,
            condition: Condition::Always,
        });
    }
    match store.transact(writes).await {
        // A retried request whose first try landed.
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

/// E-mails whose time has come, oldest first.
pub async fn due<S: LocalStore + ?Sized>(
    store: &S,
    now: UnixMillis,
    limit: u32,
) -> StoreResult<Vec<OutgoingMail>> {
    let mut due = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query(Query::prefix(OUTBOX, "").limit(100).after(cursor))
            .await?;
        for item in &page.items {
            let mail: OutgoingMail = item.decode()?;
            if mail.due_at <= now {
                due.push(mail);
                if due.len() >= limit as usize {
                    return Ok(due);
                }
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(due),
        }
    }
}

/// Takes a due e-mail for one try: counts the try and schedules the next one (1, 2, 4, 8
/// minutes) before anything is sent, so a try that never ends is not retried at once.
/// `None` when it is gone or not due (another mailer took it).
pub async fn claim<S: LocalStore + ?Sized>(
    store: &S,
    mail_id: &str,
    now: UnixMillis,
) -> StoreResult<Option<OutgoingMail>> {
    let Some(item) = store.get(OUTBOX, mail_id).await? else {
        return Ok(None);
    };
    let mut mail: OutgoingMail = item.decode()?;
    if mail.due_at > now {
        return Ok(None);
    }
    mail.attempts += 1;
    mail.due_at = now + (60_000u64 << (mail.attempts - 1).min(10));
    let mut attrs = serde_json::Map::new();
    attrs.insert("attempts".into(), mail.attempts.into());
    attrs.insert("due_at".into(), mail.due_at.into());
    match store.update(OUTBOX, mail_id, attrs).await {
        Ok(()) => Ok(Some(mail)),
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What a try did: sent, failed for good, or to be tried again at `due_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    Failed(String),
    Retry(String),
}

/// Writes a [`claim`]ed try's outcome: the outbox item goes (or waits for the next try
/// the claim scheduled) and the contact's record says what happened.
pub async fn finish<S: LocalStore + ?Sized>(
    store: &S,
    mail: &OutgoingMail,
    outcome: &Outcome,
    now: UnixMillis,
) -> StoreResult<()> {
    let (status, error) = match outcome {
        Outcome::Sent => (MailStatus::Sent, None),
        Outcome::Failed(e) => (MailStatus::Failed, Some(e.clone())),
        Outcome::Retry(e) => (MailStatus::Queued, Some(e.clone())),
    };
    if !matches!(outcome, Outcome::Retry(_)) {
        store.delete(OUTBOX, &mail.mail_id).await?;
    }
    if let Some(contact_id) = &mail.contact_id {
        let mut attrs = serde_json::Map::new();
        attrs.insert(
            "status".into(),
            serde_json::to_value(status).expect("an enum"),
        );
        attrs.insert("error".into(), error.into());
        if status != MailStatus::Queued {
            attrs.insert("done_at".into(), now.into());
        }
        let pk = contact_pk(&mail.site, contact_id);
        match store
            .update(&pk, &format!("EMAIL#{}", mail.mail_id), attrs)
            .await
        {
            // The record went with its contact: nothing to say it on.
            Ok(()) | Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A contact's e-mails, most recent first.
pub async fn contact_emails<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    contact_id: &str,
) -> StoreResult<Vec<EmailRecord>> {
    store
        .query(
            Query::prefix(contact_pk(site, contact_id), "EMAIL#")
                .descending()
                .limit(CARD_EMAILS),
        )
        .await?
        .items
        .iter()
        .map(Item::decode)
        .collect()
}
