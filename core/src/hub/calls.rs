//! Calls in the hub: who is invited to, in, or asking for a call, and the call tokens
//! that let them into a room on the media node. Media never passes through here.
//!
//! A call belongs to one agent (the host) and holds up to ten visitors. Invited visitors
//! get a preview token (they see the agent's camera before answering, V1); those who
//! accept get a guest token; those who decline never appear (V4). A visitor whose page
//! reloads (navigation, V8) gets a fresh token on `hello` and rejoins.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::call::{sign_call_token, CallClaims, CallEvent, CallEventKind, CallRole};
use crate::call::{CALL_TOKEN_TTL_MS, MAX_ROOM_PARTICIPANTS};

/// Where browsers reach the media node, and the key shared with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallConfig {
    pub media_url: String,
    pub key: Vec<u8>,
    /// The site's identifier inside tokens and call events.
    pub site: String,
}

/// What the site's record says about calls and navigation (sent by the adapter).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SiteSettings {
    pub allowed_origins: Vec<String>,
    /// V11: the account's plan includes calls.
    pub calls_in_plan: bool,
    /// V11: an agent switched calls on (off: visitors never see a call option).
    pub calls_enabled: bool,
}

pub(super) struct Call {
    agent_id: String,
    agent_name: String,
    participants: BTreeMap<String, CallParticipantState>,
    created_at: UnixMillis,
    interaction_allowed: bool,
    agent_url: Option<String>,
    /// When each visitor's media joined (from the node), for the chat trace (C14).
    joined_at: BTreeMap<String, UnixMillis>,
}

#[derive(Default)]
pub struct CallState {
    pub(super) calls: BTreeMap<String, Call>,
    pub(super) requests: BTreeSet<String>,
    pub(super) settings: SiteSettings,
    counter: u64,
}

fn error(code: ErrorCode, message: impl Into<String>) -> FrameError {
    FrameError::new(code, message)
}

fn duration_text(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

impl Hub {
    pub(super) fn calls_available(&self) -> bool {
        self.config.calls.is_some() && self.calls.settings.calls_in_plan
    }

    pub(super) fn calls_on(&self) -> bool {
        self.calls_available() && self.calls.settings.calls_enabled
    }

    pub(super) fn visitor_in_call(&self, visitor_id: &str) -> bool {
        self.call_of_visitor(visitor_id)
            .is_some_and(|(_, state)| state == CallParticipantState::Joined)
    }

    pub(super) fn visitor_requested_call(&self, visitor_id: &str) -> bool {
        self.calls.requests.contains(visitor_id)
    }

    /// The live call a visitor is invited to or in.
    fn call_of_visitor(&self, visitor_id: &str) -> Option<(&str, CallParticipantState)> {
        self.calls.calls.iter().find_map(|(id, call)| {
            call.participants
                .get(visitor_id)
                .filter(|s| {
                    matches!(
                        s,
                        CallParticipantState::Invited | CallParticipantState::Joined
                    )
                })
                .map(|s| (id.as_str(), *s))
        })
    }

    fn call_of_agent(&self, agent_id: &str) -> Option<&str> {
        self.calls
            .calls
            .iter()
            .find(|(_, c)| c.agent_id == agent_id)
            .map(|(id, _)| id.as_str())
    }

    fn join_info(
        &self,
        room: &str,
        participant: &str,
        name: &str,
        role: CallRole,
        now: UnixMillis,
    ) -> Option<CallJoinInfo> {
        let config = self.config.calls.as_ref()?;
        let claims = CallClaims {
            site: config.site.clone(),
            room: room.to_string(),
            participant: participant.to_string(),
            name: name.to_string(),
            role,
            expires_at: now + CALL_TOKEN_TTL_MS,
        };
        Some(CallJoinInfo {
            url: config.media_url.clone(),
            room: room.to_string(),
            token: sign_call_token(&config.key, &claims),
            role,
        })
    }

    pub(super) fn site_settings(&mut self, settings: SiteSettings, now: UnixMillis) {
        if self.calls.settings == settings {
            return;
        }
        let was_on = self.calls_on();
        self.calls.settings = settings;
        if was_on != self.calls_on() {
            self.broadcast_calls_setting(now);
        }
    }

    fn broadcast_calls_setting(&mut self, now: UnixMillis) {
        let enabled = self.calls_on();
        let visitors: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| matches!(&c.role, ConnRole::Visitor(v) if v.visitor_id.is_some()))
            .map(|(id, _)| *id)
            .collect();
        for conn in visitors {
            self.out.push(Output::ToVisitor {
                conn,
                frame: VisitorServerFrame::Calls { enabled },
            });
        }
        let agents: Vec<ConnId> = self.agents().map(|(c, _)| c).collect();
        for conn in agents {
            self.send_calls_setting(conn);
        }
        if !enabled {
            let requests: Vec<String> = std::mem::take(&mut self.calls.requests)
                .into_iter()
                .collect();
            for v in requests {
                self.mark_changed(&v, now);
            }
        }
    }

    pub(super) fn send_calls_setting(&mut self, conn: ConnId) {
        self.out.push(Output::ToAgent {
            conn,
            frame: AgentServerFrame::Calls {
                available: self.calls_available(),
                enabled: self.calls.settings.calls_enabled,
            },
        });
    }

    /// After `hello`: re-offer an invitation or rejoin a running call (navigation).
    pub(super) fn resume_visitor_call(&mut self, conn: ConnId, visitor_id: &str, now: UnixMillis) {
        let Some((call_id, state)) = self
            .call_of_visitor(visitor_id)
            .map(|(id, s)| (id.to_string(), s))
        else {
            return;
        };
        let call = &self.calls.calls[&call_id];
        let frame = match state {
            CallParticipantState::Invited => VisitorServerFrame::CallInvite {
                call_id: call_id.clone(),
                agent_name: call.agent_name.clone(),
                preview: match self.join_info(
                    &call_id,
                    visitor_id,
                    "Visitor",
                    CallRole::Preview,
                    now,
                ) {
                    Some(j) => j,
                    None => return,
                },
            },
            _ => VisitorServerFrame::CallJoin {
                call_id: call_id.clone(),
                join: match self.join_info(
                    &call_id,
                    visitor_id,
                    &visitor_name(visitor_id),
                    CallRole::Guest,
                    now,
                ) {
                    Some(j) => j,
                    None => return,
                },
            },
        };
        self.out.push(Output::ToVisitor { conn, frame });
        if self.calls.calls[&call_id].interaction_allowed {
            self.out.push(Output::ToVisitor {
                conn,
                frame: VisitorServerFrame::Interaction { allowed: true },
            });
        }
    }

    /// After an agent connects: their running call, if any (page reload).
    pub(super) fn resume_agent_call(
        &mut self,
        conn: ConnId,
        agent: &AgentIdentity,
        now: UnixMillis,
    ) {
        self.send_calls_setting(conn);
        let Some(call_id) = self.call_of_agent(&agent.agent_id).map(str::to_string) else {
            return;
        };
        let summary = self.call_summary(&call_id);
        self.out.push(Output::ToAgent {
            conn,
            frame: AgentServerFrame::CallChanged { call: summary },
        });
        if let Some(join) =
            self.join_info(&call_id, &agent.agent_id, &agent.name, CallRole::Host, now)
        {
            self.out.push(Output::ToAgent {
                conn,
                frame: AgentServerFrame::CallJoin { call_id, join },
            });
        }
    }

    fn call_summary(&self, call_id: &str) -> CallSummary {
        let call = &self.calls.calls[call_id];
        CallSummary {
            call_id: call_id.to_string(),
            agent_id: call.agent_id.clone(),
            participants: call
                .participants
                .iter()
                .map(|(v, s)| CallParticipant {
                    visitor_id: v.clone(),
                    state: *s,
                })
                .collect(),
            created_at: call.created_at,
            interaction_allowed: call.interaction_allowed,
            agent_url: call.agent_url.clone(),
        }
    }

    fn agent_conns_of(&self, agent_id: &str) -> Vec<ConnId> {
        self.agents()
            .filter(|(_, a)| a.identity.agent_id == agent_id)
            .map(|(c, _)| c)
            .collect()
    }

    fn to_call_agent(&mut self, agent_id: &str, frame: AgentServerFrame) {
        for conn in self.agent_conns_of(agent_id) {
            self.out.push(Output::ToAgent {
                conn,
                frame: frame.clone(),
            });
        }
    }

    fn call_changed(&mut self, call_id: &str, now: UnixMillis) {
        let summary = self.call_summary(call_id);
        let agent_id = summary.agent_id.clone();
        for p in &summary.participants {
            self.mark_changed(&p.visitor_id, now);
        }
        self.to_call_agent(&agent_id, AgentServerFrame::CallChanged { call: summary });
    }

    // -- visitor side -------------------------------------------------------------------

    pub(super) fn visitor_call_frame(
        &mut self,
        conn: ConnId,
        visitor_id: &str,
        frame: VisitorFrame,
        now: UnixMillis,
    ) {
        let result = match frame {
            VisitorFrame::CallRequest { cancel } => {
                self.call_request(conn, visitor_id, cancel, now)
            }
            VisitorFrame::CallAnswer { call_id, accept } => {
                self.call_answer(conn, visitor_id, &call_id, accept, now)
            }
            VisitorFrame::CallHangup { call_id } => {
                self.participant_leaves(
                    &call_id,
                    visitor_id,
                    CallParticipantState::Left,
                    "You left the call.",
                    now,
                );
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.send_error(conn, e);
        }
    }

    fn call_request(
        &mut self,
        conn: ConnId,
        visitor_id: &str,
        cancel: bool,
        now: UnixMillis,
    ) -> Result<(), FrameError> {
        if cancel {
            if self.calls.requests.remove(visitor_id) {
                self.mark_changed(visitor_id, now);
            }
            self.to_visitor(
                visitor_id,
                VisitorServerFrame::CallRequested { pending: false },
            );
            return Ok(());
        }
        if !self.calls_on() {
            return Err(error(ErrorCode::Forbidden, "calls are not offered here"));
        }
        if self.visitor_in_call(visitor_id) {
            return Err(error(ErrorCode::Conflict, "you are already in a call"));
        }
        // The agents who could answer: available, and the visitor's own agent if the
        // conversation is taken. If all of them are in a call, the request is not queued.
        let owner = self
            .chat
            .open_conversation_of(visitor_id)
            .and_then(|id| self.chat.conversation(id))
            .and_then(|c| c.owner.as_ref().map(|o| o.agent_id.clone()));
        let candidates: Vec<String> = self
            .agents()
            .filter(|(_, a)| a.available || owner.as_deref() == Some(a.identity.agent_id.as_str()))
            .filter(|(_, a)| owner.as_deref().is_none_or(|o| o == a.identity.agent_id))
            .map(|(_, a)| a.identity.agent_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if candidates.is_empty() {
            return Err(error(
                ErrorCode::Conflict,
                "no agent is available for a call",
            ));
        }
        let free = candidates.iter().any(|a| self.call_of_agent(a).is_none());
        if !free {
            for agent in candidates {
                self.to_call_agent(
                    &agent,
                    AgentServerFrame::MissedCall {
                        visitor_id: visitor_id.to_string(),
                        at: now,
                    },
                );
            }
            self.out.push(Output::ToVisitor {
                conn,
                frame: VisitorServerFrame::CallBusy {},
            });
            return Ok(());
        }
        self.calls.requests.insert(visitor_id.to_string());
        self.to_visitor(
            visitor_id,
            VisitorServerFrame::CallRequested { pending: true },
        );
        self.mark_changed(visitor_id, now);
        Ok(())
    }

    fn call_answer(
        &mut self,
        conn: ConnId,
        visitor_id: &str,
        call_id: &str,
        accept: bool,
        now: UnixMillis,
    ) -> Result<(), FrameError> {
        let state = self
            .calls
            .calls
            .get(call_id)
            .and_then(|c| c.participants.get(visitor_id))
            .copied();
        if state != Some(CallParticipantState::Invited) {
            return Err(error(
                ErrorCode::NotFound,
                "this call invitation is no longer open",
            ));
        }
        let call = self.calls.calls.get_mut(call_id).expect("checked");
        if accept {
            call.participants
                .insert(visitor_id.to_string(), CallParticipantState::Joined);
            self.calls.requests.remove(visitor_id);
            let join = self
                .join_info(
                    call_id,
                    visitor_id,
                    &visitor_name(visitor_id),
                    CallRole::Guest,
                    now,
                )
                .ok_or_else(|| error(ErrorCode::Forbidden, "calls are not offered here"))?;
            // Only the tab that answered joins; the others stop ringing.
            for other in self.visitor_conns(visitor_id) {
                let frame = if other == conn {
                    VisitorServerFrame::CallJoin {
                        call_id: call_id.to_string(),
                        join: join.clone(),
                    }
                } else {
                    VisitorServerFrame::CallClosed {
                        call_id: call_id.to_string(),
                        reason: "answered in another tab".into(),
                    }
                };
                self.out.push(Output::ToVisitor { conn: other, frame });
            }
        } else {
            call.participants
                .insert(visitor_id.to_string(), CallParticipantState::Declined);
            self.to_visitor(
                visitor_id,
                VisitorServerFrame::CallClosed {
                    call_id: call_id.to_string(),
                    reason: "You declined the call.".into(),
                },
            );
        }
        self.call_changed(call_id, now);
        Ok(())
    }

    fn participant_leaves(
        &mut self,
        call_id: &str,
        visitor_id: &str,
        state: CallParticipantState,
        reason: &str,
        now: UnixMillis,
    ) {
        let Some(call) = self.calls.calls.get_mut(call_id) else {
            return;
        };
        let Some(current) = call.participants.get_mut(visitor_id) else {
            return;
        };
        if !matches!(
            current,
            CallParticipantState::Invited | CallParticipantState::Joined
        ) {
            return;
        }
        *current = state;
        self.to_visitor(
            visitor_id,
            VisitorServerFrame::CallClosed {
                call_id: call_id.to_string(),
                reason: reason.to_string(),
            },
        );
        self.call_changed(call_id, now);
    }

    // -- agent side ---------------------------------------------------------------------

    pub(super) fn agent_call_frame(
        &mut self,
        conn: ConnId,
        me: &AgentIdentity,
        frame: AgentFrame,
        now: UnixMillis,
    ) -> Result<(), FrameError> {
        match frame {
            AgentFrame::CallStart { visitor_ids } => {
                let call_id = self.create_call(me, &visitor_ids, now)?;
                self.invite(&call_id, &visitor_ids, now)?;
                self.host_join(conn, &call_id, me, now);
                Ok(())
            }
            AgentFrame::CallAccept { visitor_id } => {
                if !self.calls.requests.contains(&visitor_id) {
                    return Err(error(
                        ErrorCode::NotFound,
                        "this visitor is not asking for a call",
                    ));
                }
                let call_id = self.create_call(me, std::slice::from_ref(&visitor_id), now)?;
                self.calls.requests.remove(&visitor_id);
                // They asked: they join at once, no second question.
                let call = self.calls.calls.get_mut(&call_id).expect("created");
                call.participants
                    .insert(visitor_id.clone(), CallParticipantState::Joined);
                if let Some(join) = self.join_info(
                    &call_id,
                    &visitor_id,
                    &visitor_name(&visitor_id),
                    CallRole::Guest,
                    now,
                ) {
                    self.to_visitor(
                        &visitor_id,
                        VisitorServerFrame::CallJoin {
                            call_id: call_id.clone(),
                            join,
                        },
                    );
                }
                self.to_visitor(
                    &visitor_id,
                    VisitorServerFrame::CallRequested { pending: false },
                );
                self.call_changed(&call_id, now);
                self.host_join(conn, &call_id, me, now);
                Ok(())
            }
            AgentFrame::CallAdd {
                call_id,
                visitor_ids,
            } => {
                self.own_call(&call_id, me)?;
                self.invite(&call_id, &visitor_ids, now)
            }
            AgentFrame::CallRemove {
                call_id,
                visitor_id,
            } => {
                self.own_call(&call_id, me)?;
                self.participant_leaves(
                    &call_id,
                    &visitor_id,
                    CallParticipantState::Removed,
                    "The agent removed you from the call.",
                    now,
                );
                Ok(())
            }
            AgentFrame::CallEnd { call_id } => {
                self.own_call(&call_id, me)?;
                self.end_call(&call_id, "The call ended.", now);
                Ok(())
            }
            AgentFrame::Navigate { visitor_id, url } => self.navigate(me, &visitor_id, url, now),
            AgentFrame::SetInteraction { call_id, allowed } => {
                self.own_call(&call_id, me)?;
                let call = self.calls.calls.get_mut(&call_id).expect("own_call");
                call.interaction_allowed = allowed;
                let url = call.agent_url.clone();
                let joined = self.joined_visitors(&call_id);
                for v in &joined {
                    self.to_visitor(v, VisitorServerFrame::Interaction { allowed });
                    // Taking control back re-syncs everyone to the agent's page (V9).
                    if let (false, Some(url)) = (allowed, &url) {
                        self.to_visitor(v, VisitorServerFrame::Navigate { url: url.clone() });
                    }
                }
                self.call_changed(&call_id, now);
                Ok(())
            }
            AgentFrame::SetCalls { enabled } => {
                if !self.calls_available() {
                    return Err(error(
                        ErrorCode::Forbidden,
                        "the plan does not include calls",
                    ));
                }
                // Applied here at once; the adapter stores it on the site (Output::Record).
                self.out
                    .push(Output::Record(crate::records::Record::CallsSetting {
                        enabled,
                    }));
                let mut settings = self.calls.settings.clone();
                settings.calls_enabled = enabled;
                self.site_settings(settings, now);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn joined_visitors(&self, call_id: &str) -> Vec<String> {
        self.calls.calls[call_id]
            .participants
            .iter()
            .filter(|(_, s)| **s == CallParticipantState::Joined)
            .map(|(v, _)| v.clone())
            .collect()
    }

    fn own_call(&self, call_id: &str, me: &AgentIdentity) -> Result<(), FrameError> {
        match self.calls.calls.get(call_id) {
            Some(c) if c.agent_id == me.agent_id => Ok(()),
            _ => Err(error(ErrorCode::NotFound, "no such call of yours")),
        }
    }

    fn create_call(
        &mut self,
        me: &AgentIdentity,
        visitor_ids: &[String],
        now: UnixMillis,
    ) -> Result<String, FrameError> {
        if !self.calls_on() {
            return Err(error(
                ErrorCode::Forbidden,
                "calls are switched off for this chat",
            ));
        }
        if self.call_of_agent(&me.agent_id).is_some() {
            return Err(error(ErrorCode::Conflict, "you are already in a call"));
        }
        if visitor_ids.is_empty() || visitor_ids.len() > MAX_ROOM_PARTICIPANTS - 1 {
            return Err(error(ErrorCode::BadFrame, "call 1 to 10 visitors"));
        }
        self.calls.counter += 1;
        let call_id = format!("call-{now:x}-{}", self.calls.counter);
        self.calls.calls.insert(
            call_id.clone(),
            Call {
                agent_id: me.agent_id.clone(),
                agent_name: me.name.clone(),
                participants: BTreeMap::new(),
                created_at: now,
                interaction_allowed: false,
                agent_url: None,
                joined_at: BTreeMap::new(),
            },
        );
        Ok(call_id)
    }

    fn invite(
        &mut self,
        call_id: &str,
        visitor_ids: &[String],
        now: UnixMillis,
    ) -> Result<(), FrameError> {
        let call = &self.calls.calls[call_id];
        let active = call
            .participants
            .values()
            .filter(|s| {
                matches!(
                    s,
                    CallParticipantState::Invited | CallParticipantState::Joined
                )
            })
            .count();
        if active + visitor_ids.len() > MAX_ROOM_PARTICIPANTS - 1 {
            return Err(error(
                ErrorCode::BadFrame,
                "a call holds at most 10 visitors",
            ));
        }
        for v in visitor_ids {
            if !self.visitors.contains_key(v) || self.chat.blocked.contains(v) {
                return Err(error(
                    ErrorCode::NotFound,
                    format!("visitor {v} is not on the site"),
                ));
            }
            if self.call_of_visitor(v).is_some_and(|(id, _)| id != call_id) {
                return Err(error(
                    ErrorCode::Conflict,
                    format!("visitor {v} is in another call"),
                ));
            }
        }
        let agent_name = call.agent_name.clone();
        for v in visitor_ids {
            let call = self.calls.calls.get_mut(call_id).expect("exists");
            if call.participants.get(v) == Some(&CallParticipantState::Joined) {
                continue;
            }
            call.participants
                .insert(v.clone(), CallParticipantState::Invited);
            if let Some(preview) = self.join_info(call_id, v, "Visitor", CallRole::Preview, now) {
                self.to_visitor(
                    v,
                    VisitorServerFrame::CallInvite {
                        call_id: call_id.to_string(),
                        agent_name: agent_name.clone(),
                        preview,
                    },
                );
            }
        }
        self.call_changed(call_id, now);
        Ok(())
    }

    fn host_join(&mut self, conn: ConnId, call_id: &str, me: &AgentIdentity, now: UnixMillis) {
        if let Some(join) = self.join_info(call_id, &me.agent_id, &me.name, CallRole::Host, now) {
            self.out.push(Output::ToAgent {
                conn,
                frame: AgentServerFrame::CallJoin {
                    call_id: call_id.to_string(),
                    join,
                },
            });
        }
    }

    fn end_call(&mut self, call_id: &str, reason: &str, now: UnixMillis) {
        let Some(call) = self.calls.calls.remove(call_id) else {
            return;
        };
        // C14: whoever was still in it gets the duration now; the media node's later
        // events for this room find no call and add nothing.
        let agent = AgentIdentity {
            agent_id: call.agent_id.clone(),
            name: call.agent_name.clone(),
            expert: false,
        };
        for (v, joined) in &call.joined_at {
            let text = format!(
                "Call ended · {}",
                duration_text(now.saturating_sub(*joined))
            );
            self.call_note(v, &agent, text, now);
        }
        for (v, state) in &call.participants {
            if matches!(
                state,
                CallParticipantState::Invited | CallParticipantState::Joined
            ) {
                self.to_visitor(
                    v,
                    VisitorServerFrame::CallClosed {
                        call_id: call_id.to_string(),
                        reason: reason.to_string(),
                    },
                );
            }
            self.mark_changed(v, now);
        }
        self.to_call_agent(
            &call.agent_id,
            AgentServerFrame::CallEnded {
                call_id: call_id.to_string(),
                reason: reason.to_string(),
            },
        );
    }

    /// V8: only http(s) URLs on the site's allowed origins.
    fn navigate(
        &mut self,
        me: &AgentIdentity,
        visitor_id: &str,
        url: String,
        now: UnixMillis,
    ) -> Result<(), FrameError> {
        crate::codec::validate_http_url("url", &url)?;
        let origins = &self.calls.settings.allowed_origins;
        let origin_ok = origins.is_empty()
            || origins.iter().any(|o| {
                let o = o.trim_end_matches('/');
                url.len() >= o.len()
                    && url[..o.len()].eq_ignore_ascii_case(o)
                    && matches!(url.as_bytes().get(o.len()), None | Some(b'/' | b'?' | b'#'))
            });
        if !origin_ok {
            return Err(error(
                ErrorCode::Forbidden,
                "the URL is not on one of the chat's allowed origins",
            ));
        }
        if !self.visitors.contains_key(visitor_id) {
            return Err(error(
                ErrorCode::NotFound,
                "this visitor is not on the site",
            ));
        }
        // In the agent's call without visitor interaction, everyone follows (V9).
        let mut targets = vec![visitor_id.to_string()];
        if let Some(call_id) = self.call_of_agent(&me.agent_id).map(str::to_string) {
            let call = self.calls.calls.get_mut(&call_id).expect("found");
            call.agent_url = Some(url.clone());
            if !call.interaction_allowed {
                targets = self.joined_visitors(&call_id);
                if !targets.iter().any(|t| t == visitor_id) {
                    targets.push(visitor_id.to_string());
                }
            }
            self.call_changed(&call_id, now);
        }
        for v in targets {
            self.to_visitor(&v, VisitorServerFrame::Navigate { url: url.clone() });
        }
        Ok(())
    }

    /// The agent's socket closed: a call whose host is gone ends (after a reload the
    /// portal rejoins within the media node's grace, so only count truly gone agents).
    pub(super) fn agent_gone(&mut self, agent_id: &str, now: UnixMillis) {
        if !self.agent_conns_of(agent_id).is_empty() {
            return;
        }
        if let Some(call_id) = self.call_of_agent(agent_id).map(str::to_string) {
            let anyone_joined = !self.joined_visitors(&call_id).is_empty();
            if !anyone_joined {
                self.end_call(&call_id, "The agent cancelled the call.", now);
            }
        }
    }

    /// C14: the media node's account of the call, written into each visitor's chat.
    pub(super) fn call_event(&mut self, event: CallEvent, now: UnixMillis) {
        let room = event.room.clone();
        match event.kind {
            CallEventKind::ParticipantJoined {
                participant,
                role: CallRole::Guest,
            } => {
                let Some(call) = self.calls.calls.get_mut(&room) else {
                    return;
                };
                if call.joined_at.contains_key(&participant) {
                    return;
                }
                call.joined_at.insert(participant.clone(), event.at);
                let agent = AgentIdentity {
                    agent_id: call.agent_id.clone(),
                    name: call.agent_name.clone(),
                    expert: false,
                };
                self.call_note(
                    &participant,
                    &agent,
                    format!("Call started with {}", agent.name),
                    now,
                );
            }
            CallEventKind::ParticipantLeft {
                participant,
                role: CallRole::Guest,
            } => {
                let Some(call) = self.calls.calls.get_mut(&room) else {
                    return;
                };
                let Some(joined) = call.joined_at.remove(&participant) else {
                    return;
                };
                let agent = AgentIdentity {
                    agent_id: call.agent_id.clone(),
                    name: call.agent_name.clone(),
                    expert: false,
                };
                let text = format!(
                    "Call ended · {}",
                    duration_text(event.at.saturating_sub(joined))
                );
                self.call_note(&participant, &agent, text, now);
                // Their media left (closed tab, lost network): not in the call any more.
                if self.calls.calls[&room].participants.get(&participant)
                    == Some(&CallParticipantState::Joined)
                    && self.visitor_conns(&participant).is_empty()
                {
                    self.participant_leaves(
                        &room,
                        &participant,
                        CallParticipantState::Left,
                        "",
                        now,
                    );
                }
            }
            CallEventKind::RoomEnded { .. } => self.end_call(&room, "The call ended.", now),
            _ => {}
        }
    }
}

/// What other participants see as a visitor's name.
fn visitor_name(visitor_id: &str) -> String {
    format!("Visitor {}", &visitor_id[..visitor_id.len().min(6)])
}
