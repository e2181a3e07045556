//! Conversations (chat) in the hub: lifecycle (pending → active → closed, reopen),
//! ownership and transfer, typing previews, blocking, and delivery that never loses or
//! duplicates a message.
//!
//! Delivery rule (B2): a message gets the conversation's next sequence number, is handed
//! to the store as [`StoreOp::Messages`], and is delivered to anyone (including the
//! sender's ack) only once the store confirmed it — in sequence order. So everything a
//! client has seen is durable, a restart resumes from the store with the same numbers,
//! and a resend (same `client_id`) is acknowledged again instead of stored twice.
//!
//! Who may read a conversation is [`access::may_read_conversation`], the same rule the
//! HTTP API applies.

use std::collections::{BTreeSet, HashMap, VecDeque};

use super::{AgentIdentity, Ctx, Event, HubConfig, StoreOp};
use crate::access::may_read_conversation;
use crate::codec::FrameError;
use crate::protocol::*;
use crate::store::conversations::{new_conversation_id, Restored, RECENT_MESSAGES};
use crate::store::mail::{MailContent, OutgoingMail, MAX_ANSWERS, MAX_TRANSCRIPTS};
use crate::store::StoreError;

struct Conversation {
    summary: ConversationSummary,
    /// Whether the store has it: until then each message goes with the summary in one
    /// write (`StoreOp::Open`), so no message is ever stored without its conversation.
    stored: bool,
    /// Every message up to this seq has been delivered.
    delivered_seq: u64,
    /// The newest messages, in seq order, stored or on their way to the store.
    recent: VecDeque<Entry>,
    /// E-mails queued for it (K3): transcripts asked for, answers to an absent visitor.
    transcripts: u8,
    answers_mailed: u8,
}

struct Entry {
    message: ChatMessage,
    stored: bool,
    /// The connection to acknowledge once stored.
    sender: Option<ConnId>,
}

/// A visitor's chat messages: a token bucket shared by all their tabs.
struct Bucket {
    tokens: f64,
    at: UnixMillis,
}

pub(super) struct Conversations {
    conversations: HashMap<String, Conversation>,
    /// Each visitor has at most one open (pending or active) conversation.
    open_by_visitor: HashMap<String, String>,
    blocked: BTreeSet<String>,
    /// K3: the contact each identified visitor is, to record e-mails on.
    contact_ids: HashMap<String, String>,
    /// K3: the e-mail the shop signed for each identified visitor: a transcript goes there
    /// at once; to any other address only once its owner confirmed by a link.
    proven_emails: HashMap<String, String>,
    /// Reopen requests waiting for the store: conversation → agent connections.
    loading: HashMap<String, Vec<ConnId>>,
    /// The agent connection that said it is typing, per conversation.
    typing: HashMap<String, ConnId>,
    /// Chat messages, per visitor (all tabs).
    buckets: HashMap<String, Bucket>,
    messages_per_second: f64,
    message_burst: f64,
    /// New conversations, per network address.
    openings: HashMap<String, Bucket>,
    openings_per_second: f64,
    opening_burst: f64,
}

/// Most addresses whose opening budget is remembered; a full bucket is forgotten first.
const MAX_ADDRESSES: usize = 10_000;

fn error(code: ErrorCode, message: impl Into<String>) -> FrameError {
    FrameError::new(code, message)
}

/// What a blocked visitor's chat and call requests are refused with.
pub fn blocked_error() -> FrameError {
    error(
        ErrorCode::Blocked,
        "you can no longer start conversations here",
    )
}

fn not_yours() -> FrameError {
    error(
        ErrorCode::NotFound,
        "this conversation is not yours: a colleague has it now",
    )
}

impl Conversations {
    pub fn new(config: &HubConfig) -> Self {
        Self {
            conversations: HashMap::new(),
            open_by_visitor: HashMap::new(),
            blocked: BTreeSet::new(),
            contact_ids: HashMap::new(),
            proven_emails: HashMap::new(),
            loading: HashMap::new(),
            typing: HashMap::new(),
            buckets: HashMap::new(),
            messages_per_second: config.visitor_messages_per_second,
            message_burst: config.visitor_message_burst,
            openings: HashMap::new(),
            openings_per_second: config.address_conversations_per_second,
            opening_burst: config.address_conversation_burst,
        }
    }

    /// What the store knows (open conversations, blocked visitors), into a fresh hub.
    pub fn restore(&mut self, restored: Restored) {
        for (summary, messages) in restored.conversations {
            let id = summary.conversation_id.clone();
            self.open_by_visitor
                .insert(summary.visitor_id.clone(), id.clone());
            self.conversations.insert(
                id,
                Conversation {
                    delivered_seq: summary.last_seq,
                    transcripts: 0,
                    answers_mailed: 0,
                    recent: stored_entries(messages),
                    stored: true,
                    summary,
                },
            );
        }
        self.blocked = restored.blocked.into_iter().collect();
    }

    // -- what other parts ask -------------------------------------------------------------

    pub fn open_of(&self, visitor_id: &str) -> Option<&str> {
        self.open_by_visitor.get(visitor_id).map(String::as_str)
    }

    fn open_summary(&self, visitor_id: &str) -> Option<&ConversationSummary> {
        let id = self.open_by_visitor.get(visitor_id)?;
        self.conversations.get(id).map(|c| &c.summary)
    }

    pub fn unread_of(&self, visitor_id: &str) -> u32 {
        self.open_summary(visitor_id).map_or(0, |s| s.unread)
    }

    /// The agent who owns the visitor's open conversation, if it is taken.
    pub fn owner_of_open(&self, visitor_id: &str) -> Option<String> {
        self.open_summary(visitor_id)?
            .owner
            .as_ref()
            .map(|o| o.agent_id.clone())
    }

    pub fn is_blocked(&self, visitor_id: &str) -> bool {
        self.blocked.contains(visitor_id)
    }

    pub fn blocked_list(&self) -> Vec<String> {
        self.blocked.iter().cloned().collect()
    }

    /// The open conversations an agent may see (their snapshot).
    pub fn visible_to(&self, agent_id: &str) -> Vec<ConversationSummary> {
        let mut list: Vec<ConversationSummary> = self
            .conversations
            .values()
            .filter(|c| c.summary.status != ConversationStatus::Closed)
            .filter(|c| may_read_conversation(agent_id, &c.summary))
            .map(|c| c.summary.clone())
            .collect();
        list.sort_by(|a, b| a.conversation_id.cmp(&b.conversation_id));
        list
    }

    /// A visitor left the site for good.
    pub fn visitor_gone(&mut self, visitor_id: &str) {
        self.buckets.remove(visitor_id);
        self.contact_ids.remove(visitor_id);
        self.proven_emails.remove(visitor_id);
    }

    /// K3: the e-mail the shop vouched for (a fully signed identity), or none.
    pub fn proven_email(&mut self, visitor_id: &str, email: Option<String>) {
        match email {
            Some(email) => {
                self.proven_emails
                    .insert(visitor_id.to_string(), email.trim().to_lowercase());
            }
            None => {
                self.proven_emails.remove(visitor_id);
            }
        }
    }

    /// K3: the visitor is this contact (identified by the shop, or by an e-mail they gave).
    pub fn contact_is(&mut self, visitor_id: &str, contact_id: &str) {
        self.contact_ids
            .insert(visitor_id.to_string(), contact_id.to_string());
    }

    /// K3: e-mail the visitor their conversation (a few times at most); whether the
    /// address must confirm first.
    pub fn transcript(
        &mut self,
        ctx: &mut Ctx<'_>,
        visitor_id: &str,
        id: &str,
        email: &str,
    ) -> Result<bool, FrameError> {
        let contact_id = self.contact_ids.get(visitor_id).cloned();
        let Some(conv) = self
            .conversations
            .get_mut(id)
            .filter(|c| c.summary.visitor_id == visitor_id)
        else {
            return Err(error(ErrorCode::NotFound, "no such conversation"));
        };
        if conv.transcripts >= MAX_TRANSCRIPTS {
            return Err(error(
                ErrorCode::RateLimited,
                "this conversation's transcript was sent already",
            ));
        }
        conv.transcripts += 1;
        let n = u64::from(conv.transcripts);
        // To the address the shop vouched for: at once, and on the card. To any other: a
        // confirmation first (fixed words, no chat text), on no card — a visitor cannot
        // make the shop mail what they like to whom they like.
        let proven = self.proven_emails.get(visitor_id) == Some(&email.trim().to_lowercase());
        let (contact_id, content) = match proven {
            true => (
                contact_id,
                MailContent::Transcript {
                    conversation_id: id.to_string(),
                },
            ),
            false => (
                None,
                MailContent::ConfirmTranscript {
                    conversation_id: id.to_string(),
                },
            ),
        };
        ctx.store(StoreOp::QueueMail(OutgoingMail {
            mail_id: OutgoingMail::id(ctx.now, id, n),
            site: String::new(),
            contact_id,
            to: email.to_string(),
            content,
            queued_at: ctx.now,
            attempts: 0,
            due_at: ctx.now,
        }));
        Ok(!proven)
    }

    /// K3: an agent's message reached the store while the visitor has no page open: it
    /// goes to the e-mail they gave, if any (a left message, or a shop that identified them).
    fn mail_answer(&mut self, ctx: &mut Ctx<'_>, id: &str, message: &ChatMessage) {
        let Author::Agent { name, .. } = &message.author else {
            return;
        };
        let text = match &message.body {
            MessageBody::Text { text } => text.clone(),
            MessageBody::Product { name, url, .. } => format!("{name}: {url}"),
            MessageBody::Offer {
                title, link_url, ..
            } => format!("{title}: {link_url}"),
            MessageBody::Image { .. } | MessageBody::Event { .. } => return,
        };
        let conv = self.conversations.get_mut(id).expect("present");
        let visitor_id = &conv.summary.visitor_id;
        if ctx.roster.visitor_activity(visitor_id).is_some() {
            return;
        }
        let Some(email) = conv.summary.contact.email.clone() else {
            return;
        };
        if conv.answers_mailed >= MAX_ANSWERS {
            return;
        }
        conv.answers_mailed += 1;
        let contact_id = self
            .contact_ids
            .get(visitor_id)
            .cloned()
            .or_else(|| Some(email.to_lowercase()))
            .filter(|c| crate::codec::validate_contact_id(c).is_ok());
        ctx.store(StoreOp::QueueMail(OutgoingMail {
            mail_id: OutgoingMail::id(ctx.now, id, 100 + message.seq),
            site: String::new(),
            contact_id,
            to: email,
            content: MailContent::Answer {
                conversation_id: id.to_string(),
                agent: name.clone(),
                text,
            },
            queued_at: ctx.now,
            attempts: 0,
            due_at: ctx.now,
        }));
    }

    // -- visitors ---------------------------------------------------------------------------

    /// After `hello`: the open conversation and the messages the widget has not shown yet.
    pub fn resume_visitor(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        visitor_id: &str,
        after_seq: u64,
    ) {
        let Some(conv) = self
            .open_by_visitor
            .get(visitor_id)
            .and_then(|id| self.conversations.get(id))
        else {
            return;
        };
        let messages = conv
            .recent
            .iter()
            .filter(|e| e.message.seq > after_seq && e.message.seq <= conv.delivered_seq)
            .map(|e| e.message.clone())
            .collect();
        ctx.to_visitor_conn(
            conn,
            VisitorServerFrame::Conversation {
                conversation: visitor_view(&conv.summary),
                messages,
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub fn visitor_message(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        visitor_id: &str,
        client_id: String,
        text: String,
        page_url: String,
        contact: Option<Contact>,
    ) {
        if let Some(id) = self.open_by_visitor.get(visitor_id).cloned() {
            if self.acknowledge_resend(ctx, &id, &client_id, conn) {
                return;
            }
        }
        if self.blocked.contains(visitor_id) {
            return ctx.error(conn, blocked_error().about(&client_id));
        }
        let opens = !self.open_by_visitor.contains_key(visitor_id);
        let address = ctx
            .roster
            .visitor_conn(conn)
            .map(|v| v.address.clone())
            .unwrap_or_default();
        if opens && !self.take_opening_token(&address, ctx.now) {
            return ctx.error(
                conn,
                error(
                    ErrorCode::RateLimited,
                    "too many new conversations from your network; try again in a few minutes",
                )
                .about(&client_id),
            );
        }
        if !self.take_message_token(visitor_id, ctx.now) {
            return ctx.error(
                conn,
                error(
                    ErrorCode::RateLimited,
                    "too many messages; wait a moment and send again",
                )
                .about(&client_id),
            );
        }
        let contact = contact.map(|c| Contact {
            name: c
                .name
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty()),
            email: c
                .email
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty()),
        });
        let id = match self.open_by_visitor.get(visitor_id).cloned() {
            Some(id) => {
                if let Some(contact) = contact {
                    self.merge_contact(ctx, &id, contact);
                }
                id
            }
            None => {
                let id = new_conversation_id(ctx.now, visitor_id, &client_id);
                self.open(
                    ctx,
                    &id,
                    visitor_id,
                    ConversationStatus::Pending,
                    None,
                    contact.unwrap_or_default(),
                    false,
                );
                id
            }
        };
        self.append(
            ctx,
            &id,
            client_id,
            Author::Visitor,
            MessageBody::Text { text },
            Some(page_url),
            Some(conn),
        );
    }

    fn take_message_token(&mut self, visitor_id: &str, now: UnixMillis) -> bool {
        let (rate, burst) = (self.messages_per_second, self.message_burst);
        take_token(&mut self.buckets, visitor_id, rate, burst, now)
    }

    fn take_opening_token(&mut self, address: &str, now: UnixMillis) -> bool {
        let (rate, burst) = (self.openings_per_second, self.opening_burst);
        if self.openings.len() >= MAX_ADDRESSES && !self.openings.contains_key(address) {
            // Forget addresses whose budget has refilled (they are as if new), else the
            // one that waited longest.
            self.openings
                .retain(|_, b| b.tokens + now.saturating_sub(b.at) as f64 / 1000.0 * rate < burst);
            if self.openings.len() >= MAX_ADDRESSES {
                let oldest = self
                    .openings
                    .iter()
                    .min_by_key(|(_, b)| b.at)
                    .map(|(a, _)| a.clone());
                if let Some(oldest) = oldest {
                    self.openings.remove(&oldest);
                }
            }
        }
        take_token(&mut self.openings, address, rate, burst, now)
    }

    pub fn visitor_typing(&mut self, ctx: &mut Ctx<'_>, visitor_id: &str, draft: String) {
        let Some(summary) = self.open_summary(visitor_id).cloned() else {
            return;
        };
        ctx.to_agents(
            |a| may_read_conversation(&a.identity.agent_id, &summary),
            AgentServerFrame::TypingPreview {
                conversation_id: summary.conversation_id.clone(),
                draft,
            },
        );
    }

    pub fn visitor_ends(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, visitor_id: &str) {
        match self.open_by_visitor.get(visitor_id).cloned() {
            Some(id) => self.close(ctx, &id, ChatEvent::Ended { by: None }),
            None => ctx.error(conn, error(ErrorCode::NotFound, "no open conversation")),
        }
    }

    // -- agents -----------------------------------------------------------------------------

    /// C2: an agent opens a conversation with a visitor of the live list.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        me: &AgentIdentity,
        visitor_id: &str,
        visitor_present: bool,
        client_id: String,
        body: MessageBody,
    ) -> Result<(), FrameError> {
        if !visitor_present {
            return Err(
                error(ErrorCode::NotFound, "this visitor is not on the site").about(&client_id),
            );
        }
        if let Some(open) = self.open_by_visitor.get(visitor_id) {
            return Err(error(
                ErrorCode::Conflict,
                format!("the visitor already has conversation {open}"),
            )
            .about(&client_id));
        }
        let id = new_conversation_id(ctx.now, visitor_id, &client_id);
        self.open(
            ctx,
            &id,
            visitor_id,
            ConversationStatus::Active,
            Some(me.as_ref()),
            Contact::default(),
            true,
        );
        self.append(ctx, &id, client_id, author(me), body, None, Some(conn));
        Ok(())
    }

    /// C1: a pending conversation becomes this agent's.
    pub fn take(
        &mut self,
        ctx: &mut Ctx<'_>,
        me: &AgentIdentity,
        id: &str,
    ) -> Result<(), FrameError> {
        match self.readable(id, me)?.status {
            ConversationStatus::Pending => {
                self.take_pending(ctx, id, me);
                Ok(())
            }
            ConversationStatus::Active => Err(error(
                ErrorCode::Conflict,
                "this conversation is already yours",
            )),
            ConversationStatus::Closed => {
                Err(error(ErrorCode::Conflict, "this conversation is closed"))
            }
        }
    }

    pub fn agent_message(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        me: &AgentIdentity,
        id: &str,
        client_id: String,
        body: MessageBody,
    ) -> Result<(), FrameError> {
        if self.acknowledge_resend(ctx, id, &client_id, conn) {
            return Ok(());
        }
        let readable = self.readable(id, me).map_err(|e| e.about(&client_id))?;
        match readable.status {
            // Answering a pending conversation takes it.
            ConversationStatus::Pending => self.take_pending(ctx, id, me),
            ConversationStatus::Active => {}
            ConversationStatus::Closed => {
                return Err(error(
                    ErrorCode::Conflict,
                    "this conversation is closed; reopen it first",
                )
                .about(&client_id))
            }
        }
        self.append(ctx, id, client_id, author(me), body, None, Some(conn));
        Ok(())
    }

    pub fn agent_typing(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        me: &AgentIdentity,
        id: &str,
        typing: bool,
    ) -> Result<(), FrameError> {
        let summary = self.readable(id, me)?;
        if summary.status == ConversationStatus::Active {
            if typing {
                self.typing.insert(id.to_string(), conn);
            } else {
                self.typing.remove(id);
            }
            ctx.to_visitor(
                &summary.visitor_id,
                VisitorServerFrame::AgentTyping { typing },
            );
        }
        Ok(())
    }

    pub fn mark_read(
        &mut self,
        ctx: &mut Ctx<'_>,
        me: &AgentIdentity,
        id: &str,
        seq: u64,
    ) -> Result<(), FrameError> {
        self.readable(id, me)?;
        let conv = self.conversations.get_mut(id).expect("readable");
        if conv.summary.unread > 0 && seq >= conv.delivered_seq {
            conv.summary.unread = 0;
            let visitor_id = conv.summary.visitor_id.clone();
            self.publish(ctx, id, None);
            ctx.emit(Event::RowChanged(visitor_id));
        }
        Ok(())
    }

    /// C8: hand an active conversation to another agent or expert online.
    pub fn transfer(
        &mut self,
        ctx: &mut Ctx<'_>,
        me: &AgentIdentity,
        id: &str,
        to_agent_id: &str,
    ) -> Result<(), FrameError> {
        let summary = self.readable(id, me)?;
        if summary.status != ConversationStatus::Active {
            return Err(error(
                ErrorCode::Conflict,
                "only an active conversation can be transferred",
            ));
        }
        if to_agent_id == me.agent_id {
            return Err(error(ErrorCode::Conflict, "it is already yours"));
        }
        let Some(target) = ctx.roster.agent_identity(to_agent_id).cloned() else {
            return Err(error(
                ErrorCode::NotFound,
                "that agent is not online on this site",
            ));
        };
        let conv = self.conversations.get_mut(id).expect("readable");
        conv.summary.owner = Some(target.as_ref());
        conv.summary.updated_at = ctx.now;
        let visitor_id = conv.summary.visitor_id.clone();
        let view = visitor_view(&conv.summary);
        self.persist(ctx, id);
        self.system_message(
            ctx,
            id,
            ChatEvent::Transferred {
                from: me.name.clone(),
                to: target.name.clone(),
            },
        );
        show_to_visitor(ctx, &visitor_id, view);
        self.publish(ctx, id, Some(&summary));
        for conn in ctx.roster.agent_conns_of(&target.agent_id) {
            ctx.to_agent(
                conn,
                AgentServerFrame::TransferredToYou {
                    conversation_id: id.to_string(),
                    from: me.as_ref(),
                },
            );
        }
        Ok(())
    }

    /// C10: the conversation moves to Closed.
    pub fn end(
        &mut self,
        ctx: &mut Ctx<'_>,
        me: &AgentIdentity,
        id: &str,
    ) -> Result<(), FrameError> {
        if self.readable(id, me)?.status == ConversationStatus::Closed {
            return Err(error(
                ErrorCode::Conflict,
                "this conversation is already closed",
            ));
        }
        self.close(
            ctx,
            id,
            ChatEvent::Ended {
                by: Some(me.name.clone()),
            },
        );
        Ok(())
    }

    /// Brings a closed conversation back as Active, owned by the agent who asked; from
    /// memory when it just closed, else from the store.
    pub fn reopen(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, id: &str) -> Result<(), FrameError> {
        if let Some(conv) = self.conversations.get(id) {
            if conv.summary.status != ConversationStatus::Closed {
                return Err(error(ErrorCode::Conflict, "this conversation is open"));
            }
            let loaded = (
                conv.summary.clone(),
                conv.recent.iter().map(|e| e.message.clone()).collect(),
            );
            self.conversations.remove(id);
            self.loading.insert(id.to_string(), vec![conn]);
            self.loaded(ctx, id, Ok(Some(loaded)));
            return Ok(());
        }
        let waiting = self.loading.entry(id.to_string()).or_default();
        waiting.push(conn);
        if waiting.len() == 1 {
            ctx.store(StoreOp::LoadConversation {
                conversation_id: id.to_string(),
            });
        }
        Ok(())
    }

    /// C9: the visitor can no longer start conversations (or can again).
    pub fn block(
        &mut self,
        ctx: &mut Ctx<'_>,
        me: &AgentIdentity,
        visitor_id: &str,
        blocked: bool,
    ) {
        let changed = if blocked {
            self.blocked.insert(visitor_id.to_string())
        } else {
            self.blocked.remove(visitor_id)
        };
        if changed {
            ctx.store(StoreOp::Blocked {
                visitor_id: visitor_id.to_string(),
                blocked,
                at: ctx.now,
            });
        }
        if blocked {
            if let Some(id) = self.open_by_visitor.get(visitor_id).cloned() {
                // The visitor reads this too: it says the chat ended, not why.
                self.close(
                    ctx,
                    &id,
                    ChatEvent::Ended {
                        by: Some(me.name.clone()),
                    },
                );
            }
        }
        if changed {
            ctx.to_visitor(visitor_id, VisitorServerFrame::Blocked { blocked });
        }
        ctx.to_agents(
            |_| true,
            AgentServerFrame::Blocked {
                visitors: self.blocked_list(),
            },
        );
    }

    /// An agent's tab closed: their "typing…" stops.
    pub fn agent_conn_closed(&mut self, ctx: &mut Ctx<'_>, conn: ConnId) {
        let stopped: Vec<String> = self
            .typing
            .iter()
            .filter(|(_, c)| **c == conn)
            .map(|(id, _)| id.clone())
            .collect();
        for id in stopped {
            self.typing.remove(&id);
            if let Some(conv) = self.conversations.get(&id) {
                ctx.to_visitor(
                    &conv.summary.visitor_id,
                    VisitorServerFrame::AgentTyping { typing: false },
                );
            }
        }
    }

    /// The summary of an in-memory conversation this agent may read. Anything else is
    /// "not found", so IDs of conversations one may not see reveal nothing.
    fn readable(&self, id: &str, me: &AgentIdentity) -> Result<ConversationSummary, FrameError> {
        self.conversations
            .get(id)
            .filter(|c| may_read_conversation(&me.agent_id, &c.summary))
            .map(|c| c.summary.clone())
            .ok_or_else(not_yours)
    }

    fn take_pending(&mut self, ctx: &mut Ctx<'_>, id: &str, me: &AgentIdentity) {
        let conv = self.conversations.get_mut(id).expect("checked");
        let before = conv.summary.clone();
        conv.summary.status = ConversationStatus::Active;
        conv.summary.owner = Some(me.as_ref());
        conv.summary.updated_at = ctx.now;
        let visitor_id = conv.summary.visitor_id.clone();
        let view = visitor_view(&conv.summary);
        self.persist(ctx, id);
        self.system_message(
            ctx,
            id,
            ChatEvent::Joined {
                name: me.name.clone(),
            },
        );
        show_to_visitor(ctx, &visitor_id, view);
        self.publish(ctx, id, Some(&before));
    }

    // -- lifecycle --------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn open(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: &str,
        visitor_id: &str,
        status: ConversationStatus,
        owner: Option<AgentRef>,
        contact: Contact,
        proactive: bool,
    ) {
        let summary = ConversationSummary {
            conversation_id: id.to_string(),
            visitor_id: visitor_id.to_string(),
            status,
            owner,
            contact,
            created_at: ctx.now,
            updated_at: ctx.now,
            preview: String::new(),
            last_seq: 0,
            unread: 0,
            proactive,
        };
        self.open_by_visitor
            .insert(visitor_id.to_string(), id.to_string());
        show_to_visitor(ctx, visitor_id, visitor_view(&summary));
        // Stored with its first message (`append`), not before.
        self.conversations.insert(
            id.to_string(),
            Conversation {
                summary,
                stored: false,
                delivered_seq: 0,
                transcripts: 0,
                answers_mailed: 0,
                recent: VecDeque::new(),
            },
        );
    }

    fn close(&mut self, ctx: &mut Ctx<'_>, id: &str, note: ChatEvent) {
        let Some(conv) = self.conversations.get_mut(id) else {
            return;
        };
        conv.summary.status = ConversationStatus::Closed;
        conv.summary.updated_at = ctx.now;
        conv.summary.unread = 0;
        let visitor_id = conv.summary.visitor_id.clone();
        if self.open_by_visitor.get(&visitor_id).map(String::as_str) == Some(id) {
            self.open_by_visitor.remove(&visitor_id);
        }
        self.typing.remove(id);
        self.system_message(ctx, id, note);
        let view = visitor_view(&self.conversations[id].summary);
        self.persist(ctx, id);
        show_to_visitor(ctx, &visitor_id, view);
        self.publish(ctx, id, None);
        ctx.emit(Event::RowChanged(visitor_id));
    }

    /// The store's answer to a reopen: the conversation comes back owned by the agent who
    /// asked first.
    pub fn loaded(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: &str,
        loaded: Result<Option<(ConversationSummary, Vec<ChatMessage>)>, StoreError>,
    ) {
        let waiting = self.loading.remove(id).unwrap_or_default();
        let Some((conn, me)) = waiting
            .iter()
            .find_map(|c| ctx.roster.agent(*c).map(|a| (*c, a.identity.clone())))
        else {
            return;
        };
        let (mut summary, messages) = match loaded {
            Ok(Some(loaded)) => loaded,
            Ok(None) => return ctx.error(conn, error(ErrorCode::NotFound, "no such conversation")),
            Err(_) => {
                return ctx.error(
                    conn,
                    error(
                        ErrorCode::NotSaved,
                        "the conversation could not be loaded; try again",
                    ),
                )
            }
        };
        if self.conversations.contains_key(id) {
            return ctx.error(
                conn,
                error(ErrorCode::Conflict, "this conversation is open"),
            );
        }
        if let Some(open) = self.open_by_visitor.get(&summary.visitor_id) {
            return ctx.error(
                conn,
                error(
                    ErrorCode::Conflict,
                    format!("the visitor has another open conversation ({open})"),
                ),
            );
        }
        let last_seq = messages
            .last()
            .map_or(summary.last_seq, |m| m.seq.max(summary.last_seq));
        let before = summary.clone();
        summary.status = ConversationStatus::Active;
        summary.owner = Some(me.as_ref());
        summary.updated_at = ctx.now;
        summary.last_seq = last_seq;
        let visitor_id = summary.visitor_id.clone();
        self.open_by_visitor
            .insert(visitor_id.clone(), id.to_string());
        show_to_visitor(ctx, &visitor_id, visitor_view(&summary));
        self.conversations.insert(
            id.to_string(),
            Conversation {
                delivered_seq: last_seq,
                transcripts: 0,
                answers_mailed: 0,
                recent: stored_entries(messages),
                stored: true,
                summary,
            },
        );
        self.persist(ctx, id);
        self.system_message(
            ctx,
            id,
            ChatEvent::Reopened {
                name: me.name.clone(),
            },
        );
        self.publish(ctx, id, Some(&before));
    }

    // -- messages ---------------------------------------------------------------------------

    /// C14: a call note in the visitor's conversation, opening one (owned by the call's
    /// agent) if they have none.
    pub fn call_note(
        &mut self,
        ctx: &mut Ctx<'_>,
        visitor_id: &str,
        agent: &AgentRef,
        note: ChatEvent,
    ) {
        let id = match self.open_by_visitor.get(visitor_id) {
            Some(id) => id.clone(),
            None => {
                let id = new_conversation_id(ctx.now, visitor_id, "call");
                self.open(
                    ctx,
                    &id,
                    visitor_id,
                    ConversationStatus::Active,
                    Some(agent.clone()),
                    Contact::default(),
                    true,
                );
                self.publish(ctx, &id, None);
                id
            }
        };
        self.system_message(ctx, &id, note);
    }

    fn system_message(&mut self, ctx: &mut Ctx<'_>, id: &str, note: ChatEvent) {
        let seq = self.conversations[id].summary.last_seq + 1;
        self.append(
            ctx,
            id,
            format!("system-{seq}"),
            Author::System,
            note.body(),
            None,
            None,
        );
    }

    /// A message this conversation already has (same sender ID) is acknowledged, not
    /// stored again. Returns whether `client_id` was a resend.
    fn acknowledge_resend(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: &str,
        client_id: &str,
        conn: ConnId,
    ) -> bool {
        let Some(conv) = self.conversations.get_mut(id) else {
            return false;
        };
        let Some(entry) = conv
            .recent
            .iter_mut()
            .find(|e| e.message.client_id == client_id)
        else {
            return false;
        };
        if entry.message.seq <= conv.delivered_seq {
            ack(ctx, conn, id, client_id, entry.message.seq);
        } else {
            entry.sender = Some(conn); // acknowledged when stored
        }
        true
    }

    /// Numbers a message and sends it to the store; delivery follows the store's answer.
    #[allow(clippy::too_many_arguments)]
    fn append(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: &str,
        client_id: String,
        author: Author,
        body: MessageBody,
        page_url: Option<String>,
        sender: Option<ConnId>,
    ) {
        let conv = self.conversations.get_mut(id).expect("open conversation");
        let seq = conv.summary.last_seq + 1;
        conv.summary.last_seq = seq;
        conv.summary.updated_at = ctx.now;
        conv.summary.preview = body.preview();
        match author {
            Author::Visitor => conv.summary.unread += 1,
            Author::Agent { .. } => conv.summary.unread = 0,
            Author::System => {}
        }
        let message = ChatMessage {
            conversation_id: id.to_string(),
            seq,
            client_id,
            author,
            body,
            page_url,
            at: ctx.now,
        };
        conv.recent.push_back(Entry {
            message: message.clone(),
            stored: false,
            sender,
        });
        while conv.recent.len() > RECENT_MESSAGES as usize
            && conv
                .recent
                .front()
                .is_some_and(|e| e.stored && e.message.seq <= conv.delivered_seq)
        {
            conv.recent.pop_front();
        }
        // Until the store has the conversation, its summary goes with each message.
        if conv.stored {
            ctx.store(StoreOp::Messages(vec![message]));
        } else {
            ctx.store(StoreOp::Open {
                summary: conv.summary.clone(),
                message,
            });
        }
    }

    /// The store's answer for message `seq`: deliver, in order, everything now stored.
    pub fn message_stored(&mut self, ctx: &mut Ctx<'_>, id: &str, seq: u64, ok: bool) {
        let Some(conv) = self.conversations.get_mut(id) else {
            return;
        };
        let Some(pos) = conv.recent.iter().position(|e| e.message.seq == seq) else {
            return;
        };
        if ok {
            conv.recent[pos].stored = true;
            conv.stored = true;
        } else {
            let entry = conv.recent.remove(pos).expect("found");
            if let Some(conn) = entry.sender {
                ctx.error(
                    conn,
                    error(
                        ErrorCode::NotSaved,
                        "the message could not be saved; it will be resent",
                    )
                    .about(&entry.message.client_id),
                );
            }
        }
        self.release(ctx, id);
    }

    fn release(&mut self, ctx: &mut Ctx<'_>, id: &str) {
        let conv = self.conversations.get_mut(id).expect("present");
        let mut delivered = Vec::new();
        for entry in conv.recent.iter() {
            if entry.message.seq <= conv.delivered_seq {
                continue;
            }
            if !entry.stored {
                break;
            }
            conv.delivered_seq = entry.message.seq;
            delivered.push((entry.message.clone(), entry.sender));
        }
        if delivered.is_empty() {
            return;
        }
        let summary = conv.summary.clone();
        for (message, sender) in delivered {
            ctx.to_visitor(
                &summary.visitor_id,
                VisitorServerFrame::Message {
                    message: message.clone(),
                },
            );
            ctx.to_agents(
                |a| may_read_conversation(&a.identity.agent_id, &summary),
                AgentServerFrame::Message {
                    message: message.clone(),
                },
            );
            if let Some(conn) = sender {
                ack(ctx, conn, id, &message.client_id, message.seq);
            }
            self.mail_answer(ctx, id, &message);
        }
        self.publish(ctx, id, None);
        ctx.emit(Event::RowChanged(summary.visitor_id.clone()));
        // A closed conversation leaves memory once everything it said is delivered.
        let conv = &self.conversations[id];
        if conv.summary.status == ConversationStatus::Closed
            && conv
                .recent
                .iter()
                .all(|e| e.message.seq <= conv.delivered_seq)
        {
            self.conversations.remove(id);
        }
    }

    /// The visitor said who they are (a form, or the shop's identity): the open
    /// conversation's name and e-mail take what is new, and the agents see it (C11).
    pub fn visitor_identified(&mut self, ctx: &mut Ctx<'_>, visitor_id: &str, contact: Contact) {
        if let Some(id) = self.open_by_visitor.get(visitor_id).cloned() {
            self.merge_contact(ctx, &id, contact);
        }
    }

    fn merge_contact(&mut self, ctx: &mut Ctx<'_>, id: &str, contact: Contact) {
        let Some(conv) = self.conversations.get_mut(id) else {
            return;
        };
        let merged = Contact {
            name: contact.name.or(conv.summary.contact.name.clone()),
            email: contact.email.or(conv.summary.contact.email.clone()),
        };
        if merged != conv.summary.contact {
            let before = conv.summary.clone();
            conv.summary.contact = merged;
            self.persist(ctx, id);
            self.publish(ctx, id, Some(&before));
        }
    }

    /// Writes the summary (lifecycle changes only; per-message fields are rebuilt on restore).
    fn persist(&mut self, ctx: &mut Ctx<'_>, id: &str) {
        ctx.store(StoreOp::Conversation(
            self.conversations[id].summary.clone(),
        ));
    }

    /// Tells the agents who may read the conversation what it is now. Those who could read
    /// it `before` (a change of owner) and no longer can learn its ID, and nothing else.
    fn publish(&mut self, ctx: &mut Ctx<'_>, id: &str, before: Option<&ConversationSummary>) {
        let Some(summary) = self.conversations.get(id).map(|c| c.summary.clone()) else {
            return;
        };
        let agents: Vec<(ConnId, bool, bool)> = ctx
            .roster
            .agents()
            .map(|(conn, a)| {
                let who = &a.identity.agent_id;
                let could = before.is_some_and(|b| may_read_conversation(who, b));
                (conn, could, may_read_conversation(who, &summary))
            })
            .collect();
        for (conn, could, can) in agents {
            if can {
                let conversation = summary.clone();
                ctx.to_agent(conn, AgentServerFrame::ConversationChanged { conversation });
            } else if could {
                let conversation_id = id.to_string();
                let owner = summary.owner.clone();
                ctx.to_agent(
                    conn,
                    AgentServerFrame::ConversationHidden {
                        conversation_id,
                        owner,
                    },
                );
            }
        }
    }
}

/// A token bucket per key: `burst` at first, refilled at `rate` per second.
fn take_token(
    buckets: &mut HashMap<String, Bucket>,
    key: &str,
    rate: f64,
    burst: f64,
    now: UnixMillis,
) -> bool {
    let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
        tokens: burst,
        at: now,
    });
    let elapsed = now.saturating_sub(bucket.at) as f64 / 1000.0;
    bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
    bucket.at = now;
    if bucket.tokens < 1.0 {
        return false;
    }
    bucket.tokens -= 1.0;
    true
}

fn ack(ctx: &mut Ctx<'_>, conn: ConnId, conversation_id: &str, client_id: &str, seq: u64) {
    let (conversation_id, client_id) = (conversation_id.to_string(), client_id.to_string());
    match ctx.roster.peer(conn) {
        Some(super::Peer::Visitor(_)) => ctx.to_visitor_conn(
            conn,
            VisitorServerFrame::MessageAck {
                conversation_id,
                client_id,
                seq,
            },
        ),
        Some(super::Peer::Agent(_)) => ctx.to_agent(
            conn,
            AgentServerFrame::MessageAck {
                conversation_id,
                client_id,
                seq,
            },
        ),
        None => {}
    }
}

/// The visitor's tabs learn where their conversation stands (new, taken, transferred…).
fn show_to_visitor(ctx: &mut Ctx<'_>, visitor_id: &str, view: VisitorConversation) {
    ctx.to_visitor(
        visitor_id,
        VisitorServerFrame::Conversation {
            conversation: view,
            messages: Vec::new(),
        },
    );
}

fn visitor_view(summary: &ConversationSummary) -> VisitorConversation {
    VisitorConversation {
        conversation_id: summary.conversation_id.clone(),
        status: summary.status,
        agent_name: summary.owner.as_ref().map(|o| o.name.clone()),
    }
}

/// Messages read from the store: already stored, nobody waiting for an ack.
fn stored_entries(messages: Vec<ChatMessage>) -> VecDeque<Entry> {
    messages
        .into_iter()
        .map(|message| Entry {
            message,
            stored: true,
            sender: None,
        })
        .collect()
}

fn author(agent: &AgentIdentity) -> Author {
    Author::Agent {
        agent_id: agent.agent_id.clone(),
        name: agent.name.clone(),
    }
}
