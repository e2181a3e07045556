//! The hub's side of the store: the requests it makes ([`StoreOp`]), the one function
//! every adapter runs them with ([`perform`]), and the part of the hub that keeps track of
//! them ([`Storage`]): which are in flight, which must wait for an earlier write of the
//! same thing, which failed and are retried after a backoff.
//!
//! - Idempotent writes (visits, page views, conversation summaries, blocks, the calls
//!   switch) are retried until they succeed. Writes that set the state of one thing (a
//!   conversation's summary, a visitor's block, the site's calls switch) are sent one at a
//!   time per thing and in order; a newer one waiting replaces an older one waiting.
//! - A chat message is not retried here: its sender is told (`not_saved`) and resends it.
//! - Chat messages are group-committed: up to [`MESSAGE_WRITES_IN_FLIGHT`] writes at a
//!   time; messages that come meanwhile wait and go together, in one transaction, when one
//!   of them finishes. A quiet site writes each message at once; a busy one makes fewer,
//!   larger writes instead of a queue of small ones (each still delivered only once stored).
//! - The restore request (open conversations and blocks) is retried until it succeeds.

use std::collections::{HashMap, HashSet, VecDeque};

use super::timers::Timers;
use super::Output;
use crate::clock::UnixMillis;
use crate::protocol::{ChatMessage, ConversationSummary, Identity};
use crate::store::browsing::{self, Visit, VisitedPage};
use crate::store::contacts::{self, StoredEvent};
use crate::store::conversations::{self, Restored};
use crate::store::mail::{self, OutgoingMail};
use crate::store::{accounts, LocalStore, StoreError, MAX_TRANSACTION_WRITES};

/// A read or write the hub asks its adapter to run.
// Short-lived (made, sent, answered): boxing the big variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum StoreOp {
    /// Load the open conversations and blocked visitors (a new hub, once).
    Restore,
    Visit {
        visitor_id: String,
        visit: Visit,
    },
    PageView {
        visitor_id: String,
        page: VisitedPage,
        /// The page the visitor was on before, in this visit (K4's "viewed next").
        previous_url: Option<String>,
    },
    /// A conversation not stored yet and one of its messages, in one transaction: an
    /// acknowledged message is never without its conversation.
    Open {
        summary: ConversationSummary,
        message: ChatMessage,
    },
    /// A conversation's lifecycle changed (taken, transferred, ended, reopened).
    Conversation(ConversationSummary),
    /// Chat messages (of any conversations), all or none; the hub delivers each only once
    /// this succeeded.
    Messages(Vec<ChatMessage>),
    Blocked {
        visitor_id: String,
        blocked: bool,
        at: UnixMillis,
    },
    /// V11: an agent switched calls on or off for the site.
    CallsSetting {
        enabled: bool,
    },
    /// Read a closed conversation back (to reopen it).
    LoadConversation {
        conversation_id: String,
    },
    /// K1: the shop identified this visitor (signature already checked: `verified`).
    Identify {
        visitor_id: String,
        identity: Identity,
        verified: bool,
        at: UnixMillis,
    },
    /// K4: a shop event of this visitor's.
    Track {
        visitor_id: String,
        event: StoredEvent,
    },
    /// K3: an e-mail for the mailer (its `site` is filled in by [`perform`]).
    QueueMail(OutgoingMail),
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoreRequest {
    pub id: u64,
    pub op: StoreOp,
}

/// What a successful request gives back.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Done,
    Restored(Restored),
    /// Visits this visitor has made, including the one just written.
    VisitCount(u32),
    Conversation(Option<(ConversationSummary, Vec<ChatMessage>)>),
    /// Whether an identification linked the visitor to the contact.
    Identified(contacts::Identified),
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoreReply {
    pub id: u64,
    pub result: Result<Answer, StoreError>,
}

/// Runs one request against the store, for the hub of `site`. Adapters call this for
/// every [`Output::Store`] and hand the reply back as [`super::Input::Stored`].
pub async fn perform<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    request: StoreRequest,
) -> StoreReply {
    let result = match request.op {
        StoreOp::Restore => conversations::load_open(store, site)
            .await
            .map(Answer::Restored),
        StoreOp::Visit { visitor_id, visit } => {
            browsing::record_visit(store, site, &visitor_id, &visit)
                .await
                .map(Answer::VisitCount)
        }
        StoreOp::PageView {
            visitor_id,
            page,
            previous_url,
        } => browsing::record_page_view(store, site, &visitor_id, &page, previous_url.as_deref())
            .await
            .map(|_| Answer::Done),
        StoreOp::Open { summary, message } => {
            conversations::open_conversation(store, site, &summary, &message)
                .await
                .map(|_| Answer::Done)
        }
        StoreOp::Conversation(summary) => conversations::save_conversation(store, site, &summary)
            .await
            .map(|_| Answer::Done),
        StoreOp::Messages(messages) => conversations::save_messages(store, site, &messages)
            .await
            .map(|_| Answer::Done),
        StoreOp::Blocked {
            visitor_id,
            blocked,
            at,
        } => conversations::set_blocked(store, site, &visitor_id, blocked, at)
            .await
            .map(|_| Answer::Done),
        StoreOp::CallsSetting { enabled } => {
            match accounts::set_calls_enabled(store, site, enabled).await {
                // The site was deleted meanwhile: nothing left to switch.
                Ok(()) | Err(StoreError::ConditionFailed) => Ok(Answer::Done),
                Err(e) => Err(e),
            }
        }
        StoreOp::Identify {
            visitor_id,
            identity,
            verified,
            at,
        } => contacts::identify(store, site, &visitor_id, &identity, verified, at)
            .await
            .map(Answer::Identified),
        StoreOp::Track { visitor_id, event } => {
            contacts::record_event(store, site, &visitor_id, &event)
                .await
                .map(|_| Answer::Done)
        }
        StoreOp::QueueMail(mut outgoing) => {
            outgoing.site = site.to_string();
            match accounts::get_site(store, site).await {
                Ok(found) => {
                    let name = found.map(|s| s.name).unwrap_or_else(|| site.to_string());
                    let subject = outgoing.content.subject(&name);
                    mail::queue(store, &outgoing, &subject)
                        .await
                        .map(|_| Answer::Done)
                }
                Err(e) => Err(e),
            }
        }
        StoreOp::LoadConversation { conversation_id } => {
            conversations::load_conversation(store, site, &conversation_id)
                .await
                .map(Answer::Conversation)
        }
    };
    StoreReply {
        id: request.id,
        result,
    }
}

/// What a reply means for the rest of the hub.
pub(super) enum Delivery {
    Restored(Restored),
    VisitCounted {
        visitor_id: String,
        visit_id: String,
        visit_count: u32,
    },
    /// The visitor's contact exists in the store now (K1).
    ContactStored {
        visitor_id: String,
        identity: Identity,
    },
    /// These messages (conversation, seq) were stored, or (`ok` false) were not.
    MessagesStored {
        messages: Vec<(String, u64)>,
        ok: bool,
    },
    ConversationLoaded {
        conversation_id: String,
        loaded: Result<Option<(ConversationSummary, Vec<ChatMessage>)>, StoreError>,
    },
}

/// Writes of the same thing are sent one at a time, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    Conversation(String),
    Blocked(String),
    CallsSetting,
    /// Whom a visitor is identified as: the last identification wins.
    Identity(String),
}

fn subject(op: &StoreOp) -> Option<Subject> {
    match op {
        StoreOp::Conversation(s) | StoreOp::Open { summary: s, .. } => {
            Some(Subject::Conversation(s.conversation_id.clone()))
        }
        StoreOp::Blocked { visitor_id, .. } => Some(Subject::Blocked(visitor_id.clone())),
        StoreOp::CallsSetting { .. } => Some(Subject::CallsSetting),
        StoreOp::Restore
        | StoreOp::Visit { .. }
        | StoreOp::PageView { .. }
        | StoreOp::Messages(_)
        | StoreOp::LoadConversation { .. }
        | StoreOp::Track { .. }
        | StoreOp::QueueMail(_) => None,
        StoreOp::Identify { visitor_id, .. } => Some(Subject::Identity(visitor_id.clone())),
    }
}

/// Whether a failed request is tried again (after a backoff) rather than reported.
fn retried(op: &StoreOp) -> bool {
    match op {
        StoreOp::Restore
        | StoreOp::Visit { .. }
        | StoreOp::PageView { .. }
        | StoreOp::Conversation(_)
        | StoreOp::Blocked { .. }
        | StoreOp::CallsSetting { .. }
        | StoreOp::Identify { .. }
        | StoreOp::Track { .. }
        | StoreOp::QueueMail(_) => true,
        StoreOp::Open { .. } | StoreOp::Messages(_) | StoreOp::LoadConversation { .. } => false,
    }
}

/// A state write: a newer one of the same subject makes a waiting older one pointless.
fn supersedes(op: &StoreOp) -> bool {
    matches!(
        op,
        StoreOp::Conversation(_)
            | StoreOp::Blocked { .. }
            | StoreOp::CallsSetting { .. }
            | StoreOp::Identify { .. }
    )
}

/// Requests kept at most (in flight, waiting, or to retry); past it, browsing facts
/// (visits, page views, identities, shop events) are dropped rather than let a store outage grow memory without
/// bound. State writes are bounded by what they describe; messages are never kept.
const MAX_KEPT: usize = 50_000;
/// Message writes in flight at once; more messages wait for one of them (group commit).
pub const MESSAGE_WRITES_IN_FLIGHT: usize = 4;
const FIRST_BACKOFF_MS: u64 = 250;
const MAX_BACKOFF_MS: u64 = 30_000;

struct Kept {
    op: StoreOp,
    attempts: u32,
}

#[derive(Default)]
pub(super) struct Storage {
    next_id: u64,
    in_flight: HashMap<u64, Kept>,
    /// Subjects with a write in flight (or waiting to be retried).
    busy: HashSet<Subject>,
    /// Writes waiting for a busy subject, in order; sent one by one as each succeeds.
    waiting: HashMap<Subject, VecDeque<StoreOp>>,
    retry: Timers<u64>,
    to_retry: HashMap<u64, Kept>,
    /// Writes whose turn came (the one before them succeeded), sent at the next tick.
    pending_sends: Vec<Kept>,
    /// Message writes in flight (or about to be sent).
    message_writes: usize,
    /// Messages waiting for a message write to finish, to go together.
    queued_messages: VecDeque<ChatMessage>,
    restore_requested: bool,
    /// Browsing writes dropped because too many requests were kept.
    pub dropped: u64,
}

impl Storage {
    pub fn restore_requested(&self) -> bool {
        self.restore_requested
    }

    pub fn next_wakeup(&self) -> Option<UnixMillis> {
        self.retry.next()
    }

    fn kept(&self) -> usize {
        self.in_flight.len()
            + self.waiting.values().map(VecDeque::len).sum::<usize>()
            + self.to_retry.len()
    }

    pub fn request(&mut self, op: StoreOp, out: &mut Vec<Output>) {
        if op == StoreOp::Restore {
            self.restore_requested = true;
        }
        if matches!(
            op,
            StoreOp::Visit { .. }
                | StoreOp::PageView { .. }
                | StoreOp::Identify { .. }
                | StoreOp::Track { .. }
        ) && self.kept() >= MAX_KEPT
        {
            self.dropped += 1;
            return;
        }
        if let StoreOp::Messages(messages) = op {
            self.queued_messages.extend(messages);
            self.send_messages(out);
            return;
        }
        if let Some(subject) = subject(&op) {
            if !self.busy.insert(subject.clone()) {
                let queue = self.waiting.entry(subject).or_default();
                match queue.back_mut() {
                    Some(last) if supersedes(last) && supersedes(&op) => *last = op,
                    _ => queue.push_back(op),
                }
                return;
            }
        }
        self.send(Kept { op, attempts: 0 }, out);
    }

    fn send(&mut self, kept: Kept, out: &mut Vec<Output>) {
        self.next_id += 1;
        let id = self.next_id;
        out.push(Output::Store(StoreRequest {
            id,
            op: kept.op.clone(),
        }));
        self.in_flight.insert(id, kept);
    }

    /// Queued messages, as many writes as may be in flight, each as large as a transaction
    /// may be.
    fn send_messages(&mut self, out: &mut Vec<Output>) {
        while self.message_writes < MESSAGE_WRITES_IN_FLIGHT && !self.queued_messages.is_empty() {
            let n = self.queued_messages.len().min(MAX_TRANSACTION_WRITES);
            let batch = self.queued_messages.drain(..n).collect();
            self.message_writes += 1;
            self.send(
                Kept {
                    op: StoreOp::Messages(batch),
                    attempts: 0,
                },
                out,
            );
        }
    }

    /// The adapter's answer; what it means for the hub, if anything.
    pub fn reply(&mut self, reply: StoreReply, now: UnixMillis) -> Option<Delivery> {
        let kept = self.in_flight.remove(&reply.id)?;
        if matches!(kept.op, StoreOp::Messages(_)) {
            self.message_writes -= 1;
        }
        let answer = match reply.result {
            Ok(answer) => answer,
            Err(_) if retried(&kept.op) => {
                let attempts = kept.attempts + 1;
                let backoff = (FIRST_BACKOFF_MS << (attempts - 1).min(16)).min(MAX_BACKOFF_MS);
                self.retry.insert(now + backoff, reply.id);
                self.to_retry.insert(reply.id, Kept { attempts, ..kept });
                return None;
            }
            Err(error) => {
                self.next_of(subject(&kept.op));
                return match kept.op {
                    StoreOp::Messages(messages) => Some(Delivery::MessagesStored {
                        messages: keys(messages),
                        ok: false,
                    }),
                    StoreOp::Open { message, .. } => Some(Delivery::MessagesStored {
                        messages: keys(vec![message]),
                        ok: false,
                    }),
                    StoreOp::LoadConversation { conversation_id } => {
                        Some(Delivery::ConversationLoaded {
                            conversation_id,
                            loaded: Err(error),
                        })
                    }
                    _ => None,
                };
            }
        };
        match (kept.op, answer) {
            (StoreOp::Restore, Answer::Restored(restored)) => Some(Delivery::Restored(restored)),
            (StoreOp::Visit { visitor_id, visit }, Answer::VisitCount(visit_count)) => {
                Some(Delivery::VisitCounted {
                    visitor_id,
                    visit_id: visit.visit_id,
                    visit_count,
                })
            }
            (StoreOp::Open { summary, message }, _) => {
                self.next_of(Some(Subject::Conversation(summary.conversation_id)));
                Some(Delivery::MessagesStored {
                    messages: keys(vec![message]),
                    ok: true,
                })
            }
            (
                StoreOp::Identify {
                    visitor_id,
                    identity,
                    ..
                },
                answer,
            ) => {
                self.next_of(Some(Subject::Identity(visitor_id.clone())));
                // A refused claim leaves the visitor anonymous in the list.
                let linked = answer == Answer::Identified(contacts::Identified::Linked);
                linked.then_some(Delivery::ContactStored {
                    visitor_id,
                    identity,
                })
            }
            (StoreOp::Messages(messages), _) => Some(Delivery::MessagesStored {
                messages: keys(messages),
                ok: true,
            }),
            (StoreOp::LoadConversation { conversation_id }, Answer::Conversation(loaded)) => {
                Some(Delivery::ConversationLoaded {
                    conversation_id,
                    loaded: Ok(loaded),
                })
            }
            (op, _) => {
                self.next_of(subject(&op));
                None
            }
        }
    }

    /// A subject's write succeeded: send the one waiting behind it, if any.
    fn next_of(&mut self, subject: Option<Subject>) {
        let Some(subject) = subject else { return };
        let next = self.waiting.get_mut(&subject).and_then(VecDeque::pop_front);
        if self.waiting.get(&subject).is_some_and(VecDeque::is_empty) {
            self.waiting.remove(&subject);
        }
        match next {
            Some(op) => self.pending_sends.push(Kept { op, attempts: 0 }),
            None => {
                self.busy.remove(&subject);
            }
        }
    }

    /// Sends what is due: retries whose backoff ended, writes that were waiting.
    pub fn tick(&mut self, now: UnixMillis, out: &mut Vec<Output>) {
        for kept in std::mem::take(&mut self.pending_sends) {
            self.send(kept, out);
        }
        self.send_messages(out);
        while let Some(id) = self.retry.pop_due(now) {
            if let Some(kept) = self.to_retry.remove(&id) {
                self.send(kept, out);
            }
        }
    }
}

fn keys(messages: Vec<ChatMessage>) -> Vec<(String, u64)> {
    messages
        .into_iter()
        .map(|m| (m.conversation_id, m.seq))
        .collect()
}
