//! Chat in the hub: conversation lifecycle (pending → active → closed, reopen), ownership
//! and transfer, typing previews, blocking, and delivery that never loses or duplicates a
//! message.
//!
//! Delivery rule (B2): a message gets the conversation's next sequence number, is handed
//! to the store as a [`Record::Message`], and is delivered to anyone (including the
//! sender's ack) only once the store confirmed it — in sequence order. So everything a
//! client has seen is durable, a restart resumes from the store with the same numbers,
//! and a resend (same `client_id`) is acknowledged again instead of stored twice.

use std::collections::{BTreeSet, HashMap, VecDeque};

use super::{AgentIdentity, ConnId, ConnRole, Hub, Output};
use crate::codec::FrameError;
use crate::conversations::{new_conversation_id, Restored, RECENT_MESSAGES};
use crate::protocol::*;
use crate::records::Record;

/// The chat part of a hub's state.
#[derive(Default)]
pub struct ChatState {
    conversations: HashMap<String, Conversation>,
    /// Each visitor has at most one open (pending or active) conversation.
    open_by_visitor: HashMap<String, String>,
    pub(super) blocked: BTreeSet<String>,
    /// Reopen requests waiting for the store: conversation → agent connections.
    loading: HashMap<String, Vec<ConnId>>,
    /// Agent connections that said they are typing, per conversation.
    typing: HashMap<String, ConnId>,
}

struct Conversation {
    summary: ConversationSummary,
    /// Every message up to this seq has been delivered.
    delivered_seq: u64,
    /// The newest messages, in seq order, stored or on their way to the store.
    recent: VecDeque<Entry>,
}

struct Entry {
    message: ChatMessage,
    stored: bool,
    /// The connection to acknowledge once stored.
    sender: Option<ConnId>,
}

impl ChatState {
    pub fn open_conversation_of(&self, visitor_id: &str) -> Option<&str> {
        self.open_by_visitor.get(visitor_id).map(String::as_str)
    }

    pub fn unread_of_visitor(&self, visitor_id: &str) -> u32 {
        self.open_by_visitor
            .get(visitor_id)
            .and_then(|id| self.conversations.get(id))
            .map_or(0, |c| c.summary.unread)
    }

    pub fn blocked_list(&self) -> Vec<String> {
        self.blocked.iter().cloned().collect()
    }

    pub fn conversation(&self, id: &str) -> Option<&ConversationSummary> {
        self.conversations.get(id).map(|c| &c.summary)
    }
}

/// Pending conversations are for every agent of the chat; active and closed ones only for
/// their owner (C3).
fn may_read(agent_id: &str, summary: &ConversationSummary) -> bool {
    match summary.status {
        ConversationStatus::Pending => true,
        ConversationStatus::Active | ConversationStatus::Closed => summary
            .owner
            .as_ref()
            .is_some_and(|o| o.agent_id == agent_id),
    }
}

fn error(code: ErrorCode, message: impl Into<String>) -> FrameError {
    FrameError::new(code, message)
}

impl Hub {
    /// Loads what the store knows (open conversations, blocked visitors) into a fresh hub.
    /// The adapter calls it once, before the first input.
    pub fn restore(&mut self, restored: Restored) {
        for (summary, messages) in restored.conversations {
            let id = summary.conversation_id.clone();
            self.chat
                .open_by_visitor
                .insert(summary.visitor_id.clone(), id.clone());
            self.chat.conversations.insert(
                id,
                Conversation {
                    delivered_seq: summary.last_seq,
                    recent: stored_entries(messages),
                    summary,
                },
            );
        }
        self.chat.blocked = restored.blocked.into_iter().collect();
    }

    /// The visitor's open conversation, if any.
    pub fn chat_summary_of(&self, visitor_id: &str) -> Option<ConversationSummary> {
        let id = self.chat.open_conversation_of(visitor_id)?;
        self.chat.conversation(id).cloned()
    }

    /// Open conversations an agent connection may see (its snapshot).
    pub(super) fn conversations_for(&self, conn: ConnId) -> Vec<ConversationSummary> {
        let Some(agent) = self.agent_identity(conn) else {
            return Vec::new();
        };
        let mut list: Vec<ConversationSummary> = self
            .chat
            .conversations
            .values()
            .filter(|c| c.summary.status != ConversationStatus::Closed)
            .filter(|c| may_read(&agent.agent_id, &c.summary))
            .map(|c| c.summary.clone())
            .collect();
        list.sort_by(|a, b| a.conversation_id.cmp(&b.conversation_id));
        list
    }

    fn agent_identity(&self, conn: ConnId) -> Option<AgentIdentity> {
        match self.conns.get(&conn).map(|c| &c.role) {
            Some(ConnRole::Agent(a)) => Some(a.identity.clone()),
            _ => None,
        }
    }

    pub(super) fn visitor_conns(&self, visitor_id: &str) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| matches!(&c.role, ConnRole::Visitor(vc) if vc.visitor_id.as_deref() == Some(visitor_id)))
            .map(|(id, _)| *id)
            .collect()
    }

    pub(super) fn to_visitor(&mut self, visitor_id: &str, frame: VisitorServerFrame) {
        for conn in self.visitor_conns(visitor_id) {
            self.out.push(Output::ToVisitor {
                conn,
                frame: frame.clone(),
            });
        }
    }

    fn visitor_view(summary: &ConversationSummary) -> VisitorConversation {
        VisitorConversation {
            conversation_id: summary.conversation_id.clone(),
            status: summary.status,
            agent_name: summary.owner.as_ref().map(|o| o.name.clone()),
        }
    }

    // -- visitors ---------------------------------------------------------------------------

    /// After `hello`: the open conversation and the messages the widget has not shown yet.
    pub(super) fn resume_visitor_chat(&mut self, conn: ConnId, visitor_id: &str, after_seq: u64) {
        let Some(conv) = self
            .chat
            .open_by_visitor
            .get(visitor_id)
            .and_then(|id| self.chat.conversations.get(id))
        else {
            return;
        };
        let messages = conv
            .recent
            .iter()
            .filter(|e| e.message.seq > after_seq && e.message.seq <= conv.delivered_seq)
            .map(|e| e.message.clone())
            .collect();
        self.out.push(Output::ToVisitor {
            conn,
            frame: VisitorServerFrame::Conversation {
                conversation: Self::visitor_view(&conv.summary),
                messages,
            },
        });
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn visitor_message(
        &mut self,
        conn: ConnId,
        visitor_id: &str,
        client_id: String,
        text: String,
        page_url: String,
        contact: Option<Contact>,
        now: UnixMillis,
    ) {
        if let Some(id) = self.chat.open_by_visitor.get(visitor_id).cloned() {
            if self.acknowledge_resend(&id, &client_id, conn) {
                return;
            }
        }
        if self.chat.blocked.contains(visitor_id) {
            return self.send_error(
                conn,
                error(
                    ErrorCode::Blocked,
                    "you can no longer start conversations here",
                ),
            );
        }
        if !self.take_message_token(visitor_id, now) {
            return self.send_error(
                conn,
                error(
                    ErrorCode::RateLimited,
                    "too many messages; wait a moment and send again",
                ),
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
        let id = match self.chat.open_by_visitor.get(visitor_id).cloned() {
            Some(id) => {
                if let Some(contact) = contact {
                    let conv = self
                        .chat
                        .conversations
                        .get_mut(&id)
                        .expect("open is present");
                    let merged = Contact {
                        name: contact.name.or(conv.summary.contact.name.clone()),
                        email: contact.email.or(conv.summary.contact.email.clone()),
                    };
                    if merged != conv.summary.contact {
                        conv.summary.contact = merged;
                        self.persist(&id);
                    }
                }
                id
            }
            None => {
                let id = new_conversation_id(now, &client_id);
                self.open_conversation(
                    &id,
                    visitor_id,
                    ConversationStatus::Pending,
                    None,
                    contact.unwrap_or_default(),
                    false,
                    now,
                );
                id
            }
        };
        self.append(
            &id,
            client_id,
            Author::Visitor,
            MessageBody::Text { text },
            Some(page_url),
            Some(conn),
            now,
        );
    }

    /// A message this conversation already has (same sender ID) is acknowledged, not
    /// stored again. Returns whether `client_id` was a resend.
    fn acknowledge_resend(&mut self, conversation_id: &str, client_id: &str, conn: ConnId) -> bool {
        let Some(conv) = self.chat.conversations.get_mut(conversation_id) else {
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
            let seq = entry.message.seq;
            self.ack(conn, conversation_id, client_id, seq);
        } else {
            entry.sender = Some(conn); // acknowledged when stored
        }
        true
    }

    fn ack(&mut self, conn: ConnId, conversation_id: &str, client_id: &str, seq: u64) {
        let (conversation_id, client_id) = (conversation_id.to_string(), client_id.to_string());
        match self.conns.get(&conn).map(|c| &c.role) {
            Some(ConnRole::Visitor(_)) => self.out.push(Output::ToVisitor {
                conn,
                frame: VisitorServerFrame::MessageAck {
                    conversation_id,
                    client_id,
                    seq,
                },
            }),
            Some(ConnRole::Agent(_)) => self.out.push(Output::ToAgent {
                conn,
                frame: AgentServerFrame::MessageAck {
                    conversation_id,
                    client_id,
                    seq,
                },
            }),
            None => {}
        }
    }

    fn take_message_token(&mut self, visitor_id: &str, now: UnixMillis) -> bool {
        let (rate, burst) = (
            self.config.visitor_messages_per_second,
            self.config.visitor_message_burst,
        );
        let Some(v) = self.visitors.get_mut(visitor_id) else {
            return true;
        };
        let elapsed = now.saturating_sub(v.message_tokens_at) as f64 / 1000.0;
        v.message_tokens = (v.message_tokens + elapsed * rate).min(burst);
        v.message_tokens_at = now;
        if v.message_tokens < 1.0 {
            return false;
        }
        v.message_tokens -= 1.0;
        true
    }

    pub(super) fn visitor_typing(&mut self, visitor_id: &str, draft: String) {
        let Some(id) = self.chat.open_by_visitor.get(visitor_id).cloned() else {
            return;
        };
        let summary = self.chat.conversations[&id].summary.clone();
        let readers: Vec<ConnId> = self
            .agents()
            .filter(|(_, a)| may_read(&a.identity.agent_id, &summary))
            .map(|(conn, _)| conn)
            .collect();
        for conn in readers {
            self.out.push(Output::ToAgent {
                conn,
                frame: AgentServerFrame::TypingPreview {
                    conversation_id: id.clone(),
                    draft: draft.clone(),
                },
            });
        }
    }

    pub(super) fn visitor_ends(&mut self, conn: ConnId, visitor_id: &str, now: UnixMillis) {
        match self.chat.open_by_visitor.get(visitor_id).cloned() {
            Some(id) => self.close(&id, "The visitor ended the conversation".into(), now),
            None => self.send_error(conn, error(ErrorCode::NotFound, "no open conversation")),
        }
    }

    // -- agents -----------------------------------------------------------------------------

    pub(super) fn agent_chat_frame(&mut self, conn: ConnId, frame: AgentFrame, now: UnixMillis) {
        let Some(me) = self.agent_identity(conn) else {
            return;
        };
        if let Err(e) = self.agent_action(conn, &me, frame, now) {
            self.send_error(conn, e);
        }
    }

    fn agent_action(
        &mut self,
        conn: ConnId,
        me: &AgentIdentity,
        frame: AgentFrame,
        now: UnixMillis,
    ) -> Result<(), FrameError> {
        match frame {
            AgentFrame::StartConversation {
                visitor_id,
                client_id,
                body,
            } => {
                if !self.visitors.contains_key(&visitor_id) {
                    return Err(error(
                        ErrorCode::NotFound,
                        "this visitor is not on the site",
                    ));
                }
                if let Some(open) = self.chat.open_by_visitor.get(&visitor_id) {
                    return Err(error(
                        ErrorCode::Conflict,
                        format!("the visitor already has conversation {open}"),
                    ));
                }
                let id = new_conversation_id(now, &client_id);
                self.open_conversation(
                    &id,
                    &visitor_id,
                    ConversationStatus::Active,
                    Some(agent_ref(me)),
                    Contact::default(),
                    true,
                    now,
                );
                self.append(
                    &id,
                    client_id,
                    agent_author(me),
                    body,
                    None,
                    Some(conn),
                    now,
                );
                Ok(())
            }
            AgentFrame::Take { conversation_id } => {
                let summary = self.readable(&conversation_id, me)?;
                match summary.status {
                    ConversationStatus::Pending => {
                        self.take(&conversation_id, me, now);
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
            AgentFrame::SendMessage {
                conversation_id,
                client_id,
                body,
            } => {
                if self.acknowledge_resend(&conversation_id, &client_id, conn) {
                    return Ok(());
                }
                let summary = self.readable(&conversation_id, me)?;
                match summary.status {
                    // Answering a pending conversation takes it.
                    ConversationStatus::Pending => self.take(&conversation_id, me, now),
                    ConversationStatus::Active => {}
                    ConversationStatus::Closed => {
                        return Err(error(
                            ErrorCode::Conflict,
                            "this conversation is closed; reopen it first",
                        ))
                    }
                }
                self.append(
                    &conversation_id,
                    client_id,
                    agent_author(me),
                    body,
                    None,
                    Some(conn),
                    now,
                );
                Ok(())
            }
            AgentFrame::Typing {
                conversation_id,
                typing,
            } => {
                let summary = self.readable(&conversation_id, me)?;
                if summary.status == ConversationStatus::Active {
                    if typing {
                        self.chat.typing.insert(conversation_id.clone(), conn);
                    } else {
                        self.chat.typing.remove(&conversation_id);
                    }
                    self.to_visitor(
                        &summary.visitor_id,
                        VisitorServerFrame::AgentTyping { typing },
                    );
                }
                Ok(())
            }
            AgentFrame::MarkRead {
                conversation_id,
                seq,
            } => {
                self.readable(&conversation_id, me)?;
                let conv = self
                    .chat
                    .conversations
                    .get_mut(&conversation_id)
                    .expect("readable");
                if conv.summary.unread > 0 && seq >= conv.delivered_seq {
                    conv.summary.unread = 0;
                    let visitor_id = conv.summary.visitor_id.clone();
                    self.publish(&conversation_id);
                    self.mark_changed(&visitor_id, now);
                }
                Ok(())
            }
            AgentFrame::Transfer {
                conversation_id,
                to_agent_id,
            } => {
                let summary = self.readable(&conversation_id, me)?;
                if summary.status != ConversationStatus::Active {
                    return Err(error(
                        ErrorCode::Conflict,
                        "only an active conversation can be transferred",
                    ));
                }
                if to_agent_id == me.agent_id {
                    return Err(error(ErrorCode::Conflict, "it is already yours"));
                }
                let Some(target) = self
                    .agents()
                    .find(|(_, a)| a.identity.agent_id == to_agent_id)
                    .map(|(_, a)| a.identity.clone())
                else {
                    return Err(error(
                        ErrorCode::NotFound,
                        "that agent is not online on this chat",
                    ));
                };
                let conv = self
                    .chat
                    .conversations
                    .get_mut(&conversation_id)
                    .expect("readable");
                conv.summary.owner = Some(agent_ref(&target));
                conv.summary.updated_at = now;
                let visitor_id = conv.summary.visitor_id.clone();
                let view = Self::visitor_view(&conv.summary);
                self.persist(&conversation_id);
                self.system_message(
                    &conversation_id,
                    format!(
                        "{} transferred the conversation to {}",
                        me.name, target.name
                    ),
                    now,
                );
                self.to_visitor(
                    &visitor_id,
                    VisitorServerFrame::Conversation {
                        conversation: view,
                        messages: Vec::new(),
                    },
                );
                self.publish(&conversation_id);
                Ok(())
            }
            AgentFrame::End { conversation_id } => {
                let summary = self.readable(&conversation_id, me)?;
                if summary.status == ConversationStatus::Closed {
                    return Err(error(
                        ErrorCode::Conflict,
                        "this conversation is already closed",
                    ));
                }
                self.close(
                    &conversation_id,
                    format!("{} ended the conversation", me.name),
                    now,
                );
                Ok(())
            }
            AgentFrame::Reopen { conversation_id } => {
                if let Some(conv) = self.chat.conversations.get(&conversation_id) {
                    if conv.summary.status != ConversationStatus::Closed {
                        return Err(error(ErrorCode::Conflict, "this conversation is open"));
                    }
                    // Just closed and still in memory: reopen it from here.
                    let loaded = (
                        conv.summary.clone(),
                        conv.recent.iter().map(|e| e.message.clone()).collect(),
                    );
                    self.chat.conversations.remove(&conversation_id);
                    self.chat
                        .loading
                        .insert(conversation_id.clone(), vec![conn]);
                    self.conversation_loaded(&conversation_id, Some(loaded), now);
                    return Ok(());
                }
                let waiting = self
                    .chat
                    .loading
                    .entry(conversation_id.clone())
                    .or_default();
                waiting.push(conn);
                if waiting.len() == 1 {
                    self.out.push(Output::LoadConversation { conversation_id });
                }
                Ok(())
            }
            AgentFrame::Block {
                visitor_id,
                blocked,
            } => {
                let changed = if blocked {
                    self.chat.blocked.insert(visitor_id.clone())
                } else {
                    self.chat.blocked.remove(&visitor_id)
                };
                if changed {
                    self.out.push(Output::Record(Record::Blocked {
                        visitor_id: visitor_id.clone(),
                        blocked,
                        at: now,
                    }));
                }
                if blocked {
                    if let Some(id) = self.chat.open_by_visitor.get(&visitor_id).cloned() {
                        self.close(&id, format!("{} blocked the visitor", me.name), now);
                    }
                    self.to_visitor(
                        &visitor_id,
                        VisitorServerFrame::Error(ErrorFrame {
                            code: ErrorCode::Blocked,
                            message: "you can no longer start conversations here".into(),
                        }),
                    );
                }
                let visitors = self.chat.blocked_list();
                let agent_conns: Vec<ConnId> = self.agents().map(|(c, _)| c).collect();
                for conn in agent_conns {
                    self.out.push(Output::ToAgent {
                        conn,
                        frame: AgentServerFrame::Blocked {
                            visitors: visitors.clone(),
                        },
                    });
                }
                Ok(())
            }
            // Handled by the presence and call parts of the hub.
            _ => Ok(()),
        }
    }

    /// The summary of an in-memory conversation this agent may read. Anything else is
    /// "not found", so IDs of conversations one may not see reveal nothing.
    fn readable(&self, id: &str, me: &AgentIdentity) -> Result<ConversationSummary, FrameError> {
        self.chat
            .conversations
            .get(id)
            .filter(|c| may_read(&me.agent_id, &c.summary))
            .map(|c| c.summary.clone())
            .ok_or_else(|| error(ErrorCode::NotFound, "no such conversation of yours"))
    }

    fn take(&mut self, id: &str, me: &AgentIdentity, now: UnixMillis) {
        let conv = self.chat.conversations.get_mut(id).expect("checked");
        conv.summary.status = ConversationStatus::Active;
        conv.summary.owner = Some(agent_ref(me));
        conv.summary.updated_at = now;
        let visitor_id = conv.summary.visitor_id.clone();
        let view = Self::visitor_view(&conv.summary);
        self.persist(id);
        self.system_message(id, format!("{} joined the conversation", me.name), now);
        self.to_visitor(
            &visitor_id,
            VisitorServerFrame::Conversation {
                conversation: view,
                messages: Vec::new(),
            },
        );
        self.publish(id);
    }

    pub(super) fn agent_conn_closed(&mut self, conn: ConnId, _agent_id: &str) {
        let stopped: Vec<String> = self
            .chat
            .typing
            .iter()
            .filter(|(_, c)| **c == conn)
            .map(|(id, _)| id.clone())
            .collect();
        for id in stopped {
            self.chat.typing.remove(&id);
            if let Some(visitor_id) = self
                .chat
                .conversations
                .get(&id)
                .map(|c| c.summary.visitor_id.clone())
            {
                self.to_visitor(
                    &visitor_id,
                    VisitorServerFrame::AgentTyping { typing: false },
                );
            }
        }
    }

    // -- lifecycle --------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn open_conversation(
        &mut self,
        id: &str,
        visitor_id: &str,
        status: ConversationStatus,
        owner: Option<AgentRef>,
        contact: Contact,
        proactive: bool,
        now: UnixMillis,
    ) {
        let summary = ConversationSummary {
            conversation_id: id.to_string(),
            visitor_id: visitor_id.to_string(),
            status,
            owner,
            contact,
            created_at: now,
            updated_at: now,
            preview: String::new(),
            last_seq: 0,
            unread: 0,
            proactive,
        };
        self.chat
            .open_by_visitor
            .insert(visitor_id.to_string(), id.to_string());
        self.chat.conversations.insert(
            id.to_string(),
            Conversation {
                summary: summary.clone(),
                delivered_seq: 0,
                recent: VecDeque::new(),
            },
        );
        self.persist(id);
        self.to_visitor(
            visitor_id,
            VisitorServerFrame::Conversation {
                conversation: Self::visitor_view(&summary),
                messages: Vec::new(),
            },
        );
    }

    fn close(&mut self, id: &str, note: String, now: UnixMillis) {
        let Some(conv) = self.chat.conversations.get_mut(id) else {
            return;
        };
        conv.summary.status = ConversationStatus::Closed;
        conv.summary.updated_at = now;
        conv.summary.unread = 0;
        let visitor_id = conv.summary.visitor_id.clone();
        if self
            .chat
            .open_by_visitor
            .get(&visitor_id)
            .map(String::as_str)
            == Some(id)
        {
            self.chat.open_by_visitor.remove(&visitor_id);
        }
        self.chat.typing.remove(id);
        self.system_message(id, note, now);
        let conv = &self.chat.conversations[id];
        let view = Self::visitor_view(&conv.summary);
        self.persist(id);
        self.to_visitor(
            &visitor_id,
            VisitorServerFrame::Conversation {
                conversation: view,
                messages: Vec::new(),
            },
        );
        self.publish(id);
        self.mark_changed(&visitor_id, now);
    }

    pub(super) fn conversation_loaded(
        &mut self,
        id: &str,
        loaded: Option<(ConversationSummary, Vec<ChatMessage>)>,
        now: UnixMillis,
    ) {
        let waiting = self.chat.loading.remove(id).unwrap_or_default();
        let Some(requester) = waiting
            .iter()
            .copied()
            .find_map(|c| self.agent_identity(c).map(|a| (c, a)))
        else {
            return;
        };
        let (conn, me) = requester;
        let Some((mut summary, messages)) = loaded else {
            return self.send_error(conn, error(ErrorCode::NotFound, "no such conversation"));
        };
        if self.chat.conversations.contains_key(id) {
            return self.send_error(
                conn,
                error(ErrorCode::Conflict, "this conversation is open"),
            );
        }
        if let Some(open) = self.chat.open_by_visitor.get(&summary.visitor_id) {
            return self.send_error(
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
        summary.status = ConversationStatus::Active;
        summary.owner = Some(agent_ref(&me));
        summary.updated_at = now;
        summary.last_seq = last_seq;
        let visitor_id = summary.visitor_id.clone();
        self.chat
            .open_by_visitor
            .insert(visitor_id.clone(), id.to_string());
        self.chat.conversations.insert(
            id.to_string(),
            Conversation {
                delivered_seq: last_seq,
                recent: stored_entries(messages),
                summary: summary.clone(),
            },
        );
        self.persist(id);
        self.system_message(id, format!("{} reopened the conversation", me.name), now);
        self.to_visitor(
            &visitor_id,
            VisitorServerFrame::Conversation {
                conversation: Self::visitor_view(&summary),
                messages: Vec::new(),
            },
        );
        self.publish(id);
    }

    // -- messages ---------------------------------------------------------------------------

    /// C14: a call note in the visitor's conversation, opening one (owned by the call's
    /// agent) if they have none.
    pub(super) fn call_note(
        &mut self,
        visitor_id: &str,
        agent: &AgentIdentity,
        text: String,
        now: UnixMillis,
    ) {
        let id = match self.chat.open_by_visitor.get(visitor_id) {
            Some(id) => id.clone(),
            None => {
                let id = new_conversation_id(now, &format!("call-{visitor_id}"));
                self.open_conversation(
                    &id,
                    visitor_id,
                    ConversationStatus::Active,
                    Some(agent_ref(agent)),
                    Contact::default(),
                    true,
                    now,
                );
                self.publish(&id);
                id
            }
        };
        self.system_message(&id, text, now);
    }

    fn system_message(&mut self, id: &str, text: String, now: UnixMillis) {
        let seq = self.chat.conversations[id].summary.last_seq + 1;
        self.append(
            id,
            format!("system-{seq}"),
            Author::System,
            MessageBody::Event { text },
            None,
            None,
            now,
        );
    }

    /// Numbers a message and sends it to the store; delivery follows the store's answer.
    #[allow(clippy::too_many_arguments)]
    fn append(
        &mut self,
        id: &str,
        client_id: String,
        author: Author,
        body: MessageBody,
        page_url: Option<String>,
        sender: Option<ConnId>,
        now: UnixMillis,
    ) {
        let conv = self
            .chat
            .conversations
            .get_mut(id)
            .expect("open conversation");
        let seq = conv.summary.last_seq + 1;
        conv.summary.last_seq = seq;
        conv.summary.updated_at = now;
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
            at: now,
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
        self.out.push(Output::Record(Record::Message(message)));
    }

    /// The store's answer for message `seq`: deliver, in order, everything now stored.
    pub(super) fn message_stored(&mut self, id: &str, seq: u64, ok: bool, now: UnixMillis) {
        let Some(conv) = self.chat.conversations.get_mut(id) else {
            return;
        };
        let Some(pos) = conv.recent.iter().position(|e| e.message.seq == seq) else {
            return;
        };
        if ok {
            conv.recent[pos].stored = true;
        } else {
            let entry = conv.recent.remove(pos).expect("found");
            if let Some(conn) = entry.sender {
                self.send_error(
                    conn,
                    error(
                        ErrorCode::NotSaved,
                        format!(
                            "message {} could not be saved; it will be resent",
                            entry.message.client_id
                        ),
                    ),
                );
            }
        }
        self.release(id, now);
    }

    fn release(&mut self, id: &str, now: UnixMillis) {
        let mut delivered = Vec::new();
        {
            let conv = self.chat.conversations.get_mut(id).expect("present");
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
        }
        if delivered.is_empty() {
            return;
        }
        let summary = self.chat.conversations[id].summary.clone();
        let readers: Vec<ConnId> = self
            .agents()
            .filter(|(_, a)| may_read(&a.identity.agent_id, &summary))
            .map(|(conn, _)| conn)
            .collect();
        let visitor_conns = self.visitor_conns(&summary.visitor_id);
        for (message, sender) in delivered {
            for &conn in &visitor_conns {
                self.out.push(Output::ToVisitor {
                    conn,
                    frame: VisitorServerFrame::Message {
                        message: message.clone(),
                    },
                });
            }
            for &conn in &readers {
                self.out.push(Output::ToAgent {
                    conn,
                    frame: AgentServerFrame::Message {
                        message: message.clone(),
                    },
                });
            }
            if let Some(conn) = sender {
                self.ack(conn, id, &message.client_id, message.seq);
            }
        }
        self.publish(id);
        self.mark_changed(&summary.visitor_id, now);
        // A closed conversation leaves memory once everything it said is delivered.
        let conv = &self.chat.conversations[id];
        if conv.summary.status == ConversationStatus::Closed
            && conv
                .recent
                .iter()
                .all(|e| e.message.seq <= conv.delivered_seq)
        {
            self.chat.conversations.remove(id);
        }
    }

    /// Writes the summary (lifecycle changes only; per-message fields are rebuilt on restore).
    fn persist(&mut self, id: &str) {
        let summary = self.chat.conversations[id].summary.clone();
        self.out.push(Output::Record(Record::Conversation(summary)));
    }

    /// Tells every agent about the conversation, and whether it is theirs to see.
    fn publish(&mut self, id: &str) {
        let Some(summary) = self.conversation_summary(id) else {
            return;
        };
        let agents: Vec<(ConnId, bool)> = self
            .conns
            .iter()
            .filter_map(|(conn, c)| match &c.role {
                ConnRole::Agent(a) => Some((*conn, may_read(&a.identity.agent_id, &summary))),
                _ => None,
            })
            .collect();
        for (conn, visible) in agents {
            self.out.push(Output::ToAgent {
                conn,
                frame: AgentServerFrame::ConversationChanged {
                    conversation: summary.clone(),
                    visible,
                },
            });
        }
    }

    fn conversation_summary(&self, id: &str) -> Option<ConversationSummary> {
        self.chat.conversations.get(id).map(|c| c.summary.clone())
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

fn agent_ref(agent: &AgentIdentity) -> AgentRef {
    AgentRef {
        agent_id: agent.agent_id.clone(),
        name: agent.name.clone(),
    }
}

fn agent_author(agent: &AgentIdentity) -> Author {
    Author::Agent {
        agent_id: agent.agent_id.clone(),
        name: agent.name.clone(),
    }
}
