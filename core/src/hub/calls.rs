//! Calls in the hub: who is invited to, in, or asking for a call, and the call tokens
//! that let them into a room on the media node. Media never passes through here.
//!
//! A call belongs to one agent (the host) and holds up to ten visitors. Invited visitors
//! get a preview token (they see the agent's camera before answering, V1); those who
//! accept get a guest token; those who decline never appear (V4). A visitor whose page
//! reloads (navigation, V8) gets a fresh token on `hello` and rejoins.
//!
//! In a room, visitors are known by opaque seat IDs (`guest-1`, `guest-2`…; the agent is
//! `host`) and named "Guest 1"…: the media node and the other participants never learn a
//! visitor ID. A seat that ends (declined, removed, hung up, call over) is revoked on the
//! node at once, so a token still held for it opens nothing; inviting the visitor again
//! gives a new seat.

use std::collections::{BTreeMap, BTreeSet};

use super::{AgentIdentity, Ctx, Event, Output, StoreOp};
use crate::codec::FrameError;
use crate::media_key::{sign_call_token, CallClaims, ReplayGuard, CALL_TOKEN_TTL_MS};
use crate::protocol::media::{
    CallEvent, CallEventKind, CallRole, MediaCommand, MediaCommandKind, MAX_ROOM_PARTICIPANTS,
};
use crate::protocol::*;

/// Where browsers reach the media node, and the key shared with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallConfig {
    pub media_url: String,
    pub key: Vec<u8>,
    /// The relay for networks that drop UDP, if the operator runs one.
    pub turn: Option<crate::turn::TurnConfig>,
}

/// A visitor's place in a call: their seat ID in the room, and where they stand.
struct Seat {
    participant: String,
    state: CallParticipantState,
}

/// The host's seat ID in every room.
const HOST: &str = "host";
/// The seat of an encoder publishing into a call (WHIP).
const ENCODER: &str = "encoder";
/// How long stream keys open their call: time to set up an encoder, not a stream key
/// that outlives the call (ending the call closes the room to every token).
pub const STREAM_KEY_TTL_MS: u64 = 3_600_000;

/// `ws(s)://host/ws/call` → `http(s)://host`, where WHIP and WHEP are.
fn media_http_base(media_url: &str) -> Option<String> {
    let rest = media_url
        .strip_prefix("wss://")
        .map(|r| ("https://", r))
        .or_else(|| media_url.strip_prefix("ws://").map(|r| ("http://", r)))?;
    let host = rest.1.split('/').next().filter(|h| !h.is_empty())?;
    Some(format!("{}{host}", rest.0))
}

/// What the site's record says about calls and navigation (see
/// [`crate::access::SiteRecord::settings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSettings {
    pub allowed_origins: Vec<String>,
    /// V11: the account's plan includes calls.
    pub calls_in_plan: bool,
    /// V11: an agent switched calls on (off: visitors never see a call option).
    pub calls_enabled: bool,
    /// Agents (not admins) assigned to the site; others lose their sockets.
    pub consultants: Vec<String>,
    /// B4: the widget's language if an admin forced one.
    pub language: Option<crate::store::accounts::Language>,
    /// C4: whether agents see visitors' drafts.
    pub typing_preview: bool,
    /// K1: how visitors' identities are checked (`None`: every identity is refused).
    pub identity: Option<crate::store::accounts::SiteIdentity>,
    /// P8: agents may view a visitor's page only once the visitor accepts.
    pub cobrowse_consent: bool,
}

impl Default for SiteSettings {
    /// A site as created: no origins, no calls, typing preview on (C4's default).
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            calls_in_plan: false,
            calls_enabled: false,
            consultants: Vec::new(),
            language: None,
            typing_preview: true,
            identity: None,
            cobrowse_consent: true,
        }
    }
}

struct Call {
    agent: AgentRef,
    /// Visitor ID → seat.
    participants: BTreeMap<String, Seat>,
    seats_made: u32,
    created_at: UnixMillis,
    interaction_allowed: bool,
    agent_url: Option<String>,
    /// When each visitor's media joined (from the node), for the chat trace (C14).
    joined_at: BTreeMap<String, UnixMillis>,
}

pub(super) struct Calls {
    site: String,
    config: Option<CallConfig>,
    calls: BTreeMap<String, Call>,
    requests: BTreeSet<String>,
    settings: SiteSettings,
    counter: u64,
    /// Call events already handled (replays are refused).
    seen_events: ReplayGuard,
}

fn error(code: ErrorCode, message: impl Into<String>) -> FrameError {
    FrameError::new(code, message)
}

/// `https://shop.example` of `https://shop.example/a?b` (what a page's origin is).
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find(['/', '?', '#']) {
        Some(end) => &url[..after_scheme + end],
        None => url,
    }
}

/// Whether `url` is on `origin` (scheme and host, case-insensitive; not a prefix of a
/// longer host).
fn same_origin(url: &str, origin: &str) -> bool {
    origin_of(url).eq_ignore_ascii_case(origin.trim_end_matches('/'))
}

/// What the other participants see as a visitor's name.
fn guest_name(participant: &str) -> String {
    format!("Guest {}", participant.trim_start_matches("guest-"))
}

fn live(state: &CallParticipantState) -> bool {
    matches!(
        state,
        CallParticipantState::Invited | CallParticipantState::Joined
    )
}

impl Calls {
    pub fn new(site: &str, config: Option<CallConfig>) -> Self {
        Self {
            site: site.to_string(),
            config,
            calls: BTreeMap::new(),
            requests: BTreeSet::new(),
            settings: SiteSettings::default(),
            counter: 0,
            seen_events: ReplayGuard::default(),
        }
    }

    fn available(&self) -> bool {
        self.config.is_some() && self.settings.calls_in_plan
    }

    /// Whether visitors may be offered calls now (V11).
    pub fn on(&self) -> bool {
        self.available() && self.settings.calls_enabled
    }

    pub fn in_call(&self, visitor_id: &str) -> bool {
        self.call_of_visitor(visitor_id)
            .is_some_and(|(_, state)| state == CallParticipantState::Joined)
    }

    pub fn requested(&self, visitor_id: &str) -> bool {
        self.requests.contains(visitor_id)
    }

    /// The live call a visitor is invited to or in.
    fn call_of_visitor(&self, visitor_id: &str) -> Option<(&str, CallParticipantState)> {
        self.calls.iter().find_map(|(id, call)| {
            call.participants
                .get(visitor_id)
                .filter(|s| live(&s.state))
                .map(|s| (id.as_str(), s.state))
        })
    }

    fn call_of_agent(&self, agent_id: &str) -> Option<&str> {
        self.calls
            .iter()
            .find(|(_, c)| c.agent.agent_id == agent_id)
            .map(|(id, _)| id.as_str())
    }

    /// A token for `seat` in `room`. Visitors are named by their seat; the host's name is
    /// the agent's.
    fn join_info(
        &self,
        room: &str,
        seat: &str,
        role: CallRole,
        now: UnixMillis,
    ) -> Option<CallJoinInfo> {
        let config = self.config.as_ref()?;
        let name = match role {
            CallRole::Host => self.calls.get(room)?.agent.name.clone(),
            CallRole::Guest | CallRole::Preview | CallRole::Viewer => guest_name(seat),
        };
        let claims = CallClaims {
            site: self.site.clone(),
            room: room.to_string(),
            participant: seat.to_string(),
            name,
            role,
            expires_at: now + CALL_TOKEN_TTL_MS,
        };
        Some(CallJoinInfo {
            url: config.media_url.clone(),
            room: room.to_string(),
            token: sign_call_token(&config.key, &claims),
            role,
            ice_servers: config
                .turn
                .iter()
                .map(|turn| turn.ice_server(&format!("{room}.{seat}"), now))
                .collect(),
        })
    }

    pub fn settings(&mut self, ctx: &mut Ctx<'_>, settings: SiteSettings) {
        if self.settings == settings {
            return;
        }
        let was_on = self.on();
        self.settings = settings;
        if was_on == self.on() {
            return;
        }
        let enabled = self.on();
        ctx.to_widgets(VisitorServerFrame::Calls { enabled });
        let frame = self.calls_frame();
        ctx.to_agents(|_| true, frame);
        if !enabled {
            for v in std::mem::take(&mut self.requests) {
                ctx.emit(Event::RowChanged(v));
            }
        }
    }

    fn calls_frame(&self) -> AgentServerFrame {
        AgentServerFrame::Calls {
            available: self.available(),
            enabled: self.settings.calls_enabled,
        }
    }

    /// After `hello`: re-offer an invitation or rejoin a running call (navigation).
    pub fn resume_visitor(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, visitor_id: &str) {
        let Some((call_id, state)) = self
            .call_of_visitor(visitor_id)
            .map(|(id, s)| (id.to_string(), s))
        else {
            return;
        };
        let call = &self.calls[&call_id];
        let seat = &call.participants[visitor_id].participant;
        let frame = if state == CallParticipantState::Invited {
            self.join_info(&call_id, seat, CallRole::Preview, ctx.now)
                .map(|preview| VisitorServerFrame::CallInvite {
                    call_id: call_id.clone(),
                    agent_name: call.agent.name.clone(),
                    preview,
                })
        } else {
            self.join_info(&call_id, seat, CallRole::Guest, ctx.now)
                .map(|join| VisitorServerFrame::CallJoin {
                    call_id: call_id.clone(),
                    join,
                })
        };
        let Some(frame) = frame else { return };
        ctx.to_visitor_conn(conn, frame);
        if call.interaction_allowed {
            ctx.to_visitor_conn(conn, VisitorServerFrame::Interaction { allowed: true });
        }
    }

    /// After an agent connects: the calls setting, and their running call (page reload).
    pub fn resume_agent(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, agent: &AgentIdentity) {
        ctx.to_agent(conn, self.calls_frame());
        let Some(call_id) = self.call_of_agent(&agent.agent_id).map(str::to_string) else {
            return;
        };
        ctx.to_agent(
            conn,
            AgentServerFrame::CallChanged {
                call: self.summary(&call_id),
            },
        );
        self.host_join(ctx, conn, &call_id);
    }

    fn summary(&self, call_id: &str) -> CallSummary {
        let call = &self.calls[call_id];
        CallSummary {
            call_id: call_id.to_string(),
            agent_id: call.agent.agent_id.clone(),
            participants: call
                .participants
                .iter()
                .map(|(v, s)| CallParticipant {
                    visitor_id: v.clone(),
                    participant: s.participant.clone(),
                    state: s.state,
                })
                .collect(),
            created_at: call.created_at,
            interaction_allowed: call.interaction_allowed,
            agent_url: call.agent_url.clone(),
        }
    }

    fn changed(&mut self, ctx: &mut Ctx<'_>, call_id: &str) {
        let summary = self.summary(call_id);
        for p in &summary.participants {
            ctx.emit(Event::RowChanged(p.visitor_id.clone()));
        }
        let agent_id = summary.agent_id.clone();
        ctx.to_agents(
            |a| a.identity.agent_id == agent_id,
            AgentServerFrame::CallChanged { call: summary },
        );
    }

    // -- visitor side -------------------------------------------------------------------

    /// V2: the visitor asks for a call (or withdraws the request). `owner` is the agent of
    /// the visitor's conversation, if taken: only they may answer then.
    pub fn request(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        visitor_id: &str,
        cancel: bool,
        owner: Option<&str>,
    ) {
        if let Err(e) = self.try_request(ctx, conn, visitor_id, cancel, owner) {
            ctx.error(conn, e);
        }
    }

    fn try_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        visitor_id: &str,
        cancel: bool,
        owner: Option<&str>,
    ) -> Result<(), FrameError> {
        if cancel {
            if self.requests.remove(visitor_id) {
                ctx.emit(Event::RowChanged(visitor_id.to_string()));
            }
            ctx.to_visitor(
                visitor_id,
                VisitorServerFrame::CallRequested { pending: false },
            );
            return Ok(());
        }
        if !self.on() {
            return Err(error(ErrorCode::Forbidden, "calls are not offered here"));
        }
        if self.in_call(visitor_id) {
            return Err(error(ErrorCode::Conflict, "you are already in a call"));
        }
        // V7: the agents who could answer are every available agent of the chat and the
        // visitor's own agent (even if away); the request goes to all of them. Only if
        // none is free is it not queued: the visitor hears so at once.
        let candidates: BTreeSet<String> = ctx
            .roster
            .agents()
            .filter(|(_, a)| a.available || owner == Some(a.identity.agent_id.as_str()))
            .map(|(_, a)| a.identity.agent_id.clone())
            .collect();
        if candidates.iter().all(|a| self.call_of_agent(a).is_some()) {
            ctx.to_agents(
                |a| candidates.contains(&a.identity.agent_id),
                AgentServerFrame::MissedCall {
                    visitor_id: visitor_id.to_string(),
                    at: ctx.now,
                },
            );
            ctx.to_visitor_conn(conn, VisitorServerFrame::CallBusy {});
            return Ok(());
        }
        self.requests.insert(visitor_id.to_string());
        ctx.to_visitor(
            visitor_id,
            VisitorServerFrame::CallRequested { pending: true },
        );
        ctx.emit(Event::RowChanged(visitor_id.to_string()));
        Ok(())
    }

    /// A blocked visitor's call request is withdrawn (C9).
    pub fn withdraw_request(&mut self, ctx: &mut Ctx<'_>, visitor_id: &str) {
        if self.requests.remove(visitor_id) {
            ctx.emit(Event::RowChanged(visitor_id.to_string()));
            ctx.to_visitor(
                visitor_id,
                VisitorServerFrame::CallRequested { pending: false },
            );
        }
    }

    /// V1/V4: the visitor accepts or declines an invitation.
    pub fn answer(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        visitor_id: &str,
        call_id: &str,
        accept: bool,
    ) {
        let seat = self
            .calls
            .get(call_id)
            .and_then(|c| c.participants.get(visitor_id))
            .filter(|s| s.state == CallParticipantState::Invited)
            .map(|s| s.participant.clone());
        let Some(seat) = seat else {
            return ctx.error(
                conn,
                error(
                    ErrorCode::NotFound,
                    "this call invitation is no longer open",
                ),
            );
        };
        if accept {
            let Some(join) = self.join_info(call_id, &seat, CallRole::Guest, ctx.now) else {
                return ctx.error(
                    conn,
                    error(ErrorCode::Forbidden, "calls are not offered here"),
                );
            };
            self.set_state(call_id, visitor_id, CallParticipantState::Joined);
            self.requests.remove(visitor_id);
            // Only the tab that answered joins; the others stop ringing.
            for &other in ctx.roster.visitor_conns(visitor_id).to_vec().iter() {
                let frame = if other == conn {
                    VisitorServerFrame::CallJoin {
                        call_id: call_id.to_string(),
                        join: join.clone(),
                    }
                } else {
                    VisitorServerFrame::CallClosed {
                        call_id: call_id.to_string(),
                        reason: CallEnd::AnsweredElsewhere,
                    }
                };
                ctx.to_visitor_conn(other, frame);
            }
        } else {
            self.set_state(call_id, visitor_id, CallParticipantState::Declined);
            // Their preview connection, if any, leaves the room; the token is dead.
            self.command(ctx, call_id, MediaCommandKind::Revoke { participant: seat });
            ctx.to_visitor(
                visitor_id,
                VisitorServerFrame::CallClosed {
                    call_id: call_id.to_string(),
                    reason: CallEnd::Declined,
                },
            );
        }
        self.changed(ctx, call_id);
    }

    pub fn hangup(&mut self, ctx: &mut Ctx<'_>, visitor_id: &str, call_id: &str) {
        self.participant_leaves(
            ctx,
            call_id,
            visitor_id,
            CallParticipantState::Left,
            CallEnd::Left,
        );
    }

    fn set_state(&mut self, call_id: &str, visitor_id: &str, state: CallParticipantState) {
        if let Some(seat) = self
            .calls
            .get_mut(call_id)
            .and_then(|c| c.participants.get_mut(visitor_id))
        {
            seat.state = state;
        }
    }

    /// A new seat for a visitor in a call (a visitor invited again gets a new one: the old
    /// seat may be revoked on the node).
    fn new_seat(&mut self, call_id: &str, visitor_id: &str, state: CallParticipantState) -> String {
        let call = self.calls.get_mut(call_id).expect("a live call");
        call.seats_made += 1;
        let participant = format!("guest-{}", call.seats_made);
        call.participants.insert(
            visitor_id.to_string(),
            Seat {
                participant: participant.clone(),
                state,
            },
        );
        participant
    }

    /// Tells the media node about a room of this site.
    fn command(&mut self, ctx: &mut Ctx<'_>, room: &str, kind: MediaCommandKind) {
        if self.config.is_none() {
            return;
        }
        self.counter += 1;
        ctx.out.push(Output::Media(MediaCommand {
            site: self.site.clone(),
            room: room.to_string(),
            at: ctx.now,
            nonce: format!("{:x}-{}", ctx.now, self.counter),
            kind,
        }));
    }

    fn participant_leaves(
        &mut self,
        ctx: &mut Ctx<'_>,
        call_id: &str,
        visitor_id: &str,
        state: CallParticipantState,
        reason: CallEnd,
    ) {
        let Some(seat) = self
            .calls
            .get_mut(call_id)
            .and_then(|c| c.participants.get_mut(visitor_id))
        else {
            return;
        };
        if !live(&seat.state) {
            return;
        }
        seat.state = state;
        let participant = seat.participant.clone();
        self.command(ctx, call_id, MediaCommandKind::Revoke { participant });
        ctx.to_visitor(
            visitor_id,
            VisitorServerFrame::CallClosed {
                call_id: call_id.to_string(),
                reason,
            },
        );
        self.changed(ctx, call_id);
    }

    // -- agent side ---------------------------------------------------------------------

    /// V1/V4: call up to ten visitors. `eligible`: those on the site and not blocked.
    pub fn start(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        me: &AgentIdentity,
        visitor_ids: &[String],
        eligible: &BTreeSet<String>,
    ) -> Result<(), FrameError> {
        let call_id = self.create(me, visitor_ids, ctx.now)?;
        if let Err(e) = self.invite(ctx, &call_id, visitor_ids, eligible) {
            self.calls.remove(&call_id);
            return Err(e);
        }
        self.host_join(ctx, conn, &call_id);
        Ok(())
    }

    /// V2: answer a visitor's request; they join at once, no second question.
    pub fn accept(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        me: &AgentIdentity,
        visitor_id: &str,
    ) -> Result<(), FrameError> {
        if !self.requests.contains(visitor_id) {
            return Err(error(
                ErrorCode::NotFound,
                "this visitor is not asking for a call",
            ));
        }
        let call_id = self.create(me, &[visitor_id.to_string()], ctx.now)?;
        self.requests.remove(visitor_id);
        let seat = self.new_seat(&call_id, visitor_id, CallParticipantState::Joined);
        if let Some(join) = self.join_info(&call_id, &seat, CallRole::Guest, ctx.now) {
            ctx.to_visitor(
                visitor_id,
                VisitorServerFrame::CallJoin {
                    call_id: call_id.clone(),
                    join,
                },
            );
        }
        ctx.to_visitor(
            visitor_id,
            VisitorServerFrame::CallRequested { pending: false },
        );
        self.changed(ctx, &call_id);
        self.host_join(ctx, conn, &call_id);
        Ok(())
    }

    /// V5: invite more visitors into a running call.
    pub fn add(
        &mut self,
        ctx: &mut Ctx<'_>,
        me: &AgentIdentity,
        call_id: &str,
        visitor_ids: &[String],
        eligible: &BTreeSet<String>,
    ) -> Result<(), FrameError> {
        self.own(call_id, me)?;
        self.invite(ctx, call_id, visitor_ids, eligible)
    }

    /// V5: remove a participant.
    pub fn remove(
        &mut self,
        ctx: &mut Ctx<'_>,
        me: &AgentIdentity,
        call_id: &str,
        visitor_id: &str,
    ) -> Result<(), FrameError> {
        self.own(call_id, me)?;
        self.participant_leaves(
            ctx,
            call_id,
            visitor_id,
            CallParticipantState::Removed,
            CallEnd::Removed,
        );
        Ok(())
    }

    /// Cancel while setting up, or end: the call is over for everyone.
    pub fn end(
        &mut self,
        ctx: &mut Ctx<'_>,
        me: &AgentIdentity,
        call_id: &str,
    ) -> Result<(), FrameError> {
        self.own(call_id, me)?;
        self.end_call(ctx, call_id, CallEnd::Ended);
        Ok(())
    }

    /// B3: keys for standard clients in this agent's call: an encoder's seat (WHIP, a guest
    /// named "Encoder") and an audience that watches the agent (WHEP, no seats).
    pub fn stream_keys(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        me: &AgentIdentity,
        call_id: &str,
    ) -> Result<(), FrameError> {
        self.own(call_id, me)?;
        let Some(config) = self.config.as_ref() else {
            return Err(error(
                ErrorCode::Forbidden,
                "calls are not set up on this server",
            ));
        };
        let Some(base) = media_http_base(&config.media_url) else {
            return Err(error(
                ErrorCode::Forbidden,
                "the media node's address has no http form",
            ));
        };
        let expires_at = ctx.now + STREAM_KEY_TTL_MS;
        let key = |path: &str, participant: &str, name: &str, role: CallRole| StreamKey {
            url: format!("{base}/{path}/{call_id}"),
            token: sign_call_token(
                &config.key,
                &CallClaims {
                    site: self.site.clone(),
                    room: call_id.to_string(),
                    participant: participant.to_string(),
                    name: name.to_string(),
                    role,
                    expires_at,
                },
            ),
            expires_at,
        };
        let frame = AgentServerFrame::CallStreamKeys {
            call_id: call_id.to_string(),
            publish: key("whip", ENCODER, "Encoder", CallRole::Guest),
            watch: key("whep", "audience", "Audience", CallRole::Viewer),
        };
        ctx.to_agent(conn, frame);
        Ok(())
    }

    /// V9: hand control to the visitors or take it back (re-syncs them to the agent's page).
    pub fn set_interaction(
        &mut self,
        ctx: &mut Ctx<'_>,
        me: &AgentIdentity,
        call_id: &str,
        allowed: bool,
    ) -> Result<(), FrameError> {
        self.own(call_id, me)?;
        let call = self.calls.get_mut(call_id).expect("own");
        call.interaction_allowed = allowed;
        let url = call.agent_url.clone();
        for v in &self.joined(call_id) {
            ctx.to_visitor(v, VisitorServerFrame::Interaction { allowed });
            if let (false, Some(url)) = (allowed, &url) {
                ctx.to_visitor(v, VisitorServerFrame::Navigate { url: url.clone() });
            }
        }
        self.changed(ctx, call_id);
        Ok(())
    }

    /// V11: an agent switches calls on or off; applied at once and stored on the site.
    pub fn set_enabled(&mut self, ctx: &mut Ctx<'_>, enabled: bool) -> Result<(), FrameError> {
        if !self.available() {
            return Err(error(
                ErrorCode::Forbidden,
                "the plan does not include calls",
            ));
        }
        ctx.store(StoreOp::CallsSetting { enabled });
        let settings = SiteSettings {
            calls_enabled: enabled,
            ..self.settings.clone()
        };
        self.settings(ctx, settings);
        Ok(())
    }

    /// V8: send the visitor's browser (in the agent's call without visitor interaction,
    /// every participant's) to `url`: only http(s) URLs on the site's allowed origins, or,
    /// when the site lists none, on the origin of the page the visitor is on.
    pub fn navigate(
        &mut self,
        ctx: &mut Ctx<'_>,
        me: &AgentIdentity,
        visitor_id: &str,
        url: String,
        visitor_page: Option<&str>,
    ) -> Result<(), FrameError> {
        crate::codec::validate_http_url("url", &url)?;
        let Some(visitor_page) = visitor_page else {
            return Err(error(
                ErrorCode::NotFound,
                "this visitor is not on the site",
            ));
        };
        let page_origin = [origin_of(visitor_page).to_string()];
        let origins = match &self.settings.allowed_origins[..] {
            [] => &page_origin[..],
            listed => listed,
        };
        if !origins.iter().any(|o| same_origin(&url, o)) {
            return Err(error(
                ErrorCode::Forbidden,
                if self.settings.allowed_origins.is_empty() {
                    "the URL is not on the origin of the visitor's page"
                } else {
                    "the URL is not on one of the site's allowed origins"
                },
            ));
        }
        let mut targets = vec![visitor_id.to_string()];
        if let Some(call_id) = self.call_of_agent(&me.agent_id).map(str::to_string) {
            let call = self.calls.get_mut(&call_id).expect("found");
            call.agent_url = Some(url.clone());
            if !call.interaction_allowed {
                targets = self.joined(&call_id);
                if !targets.iter().any(|t| t == visitor_id) {
                    targets.push(visitor_id.to_string());
                }
            }
            self.changed(ctx, &call_id);
        }
        for v in targets {
            ctx.to_visitor(&v, VisitorServerFrame::Navigate { url: url.clone() });
        }
        Ok(())
    }

    fn joined(&self, call_id: &str) -> Vec<String> {
        self.calls[call_id]
            .participants
            .iter()
            .filter(|(_, s)| s.state == CallParticipantState::Joined)
            .map(|(v, _)| v.clone())
            .collect()
    }

    fn own(&self, call_id: &str, me: &AgentIdentity) -> Result<(), FrameError> {
        match self.calls.get(call_id) {
            Some(c) if c.agent.agent_id == me.agent_id => Ok(()),
            _ => Err(error(ErrorCode::NotFound, "no such call of yours")),
        }
    }

    fn create(
        &mut self,
        me: &AgentIdentity,
        visitor_ids: &[String],
        now: UnixMillis,
    ) -> Result<String, FrameError> {
        if !self.on() {
            return Err(error(
                ErrorCode::Forbidden,
                "calls are switched off for this site",
            ));
        }
        if self.call_of_agent(&me.agent_id).is_some() {
            return Err(error(ErrorCode::Conflict, "you are already in a call"));
        }
        if visitor_ids.is_empty() || visitor_ids.len() > MAX_ROOM_PARTICIPANTS - 1 {
            return Err(error(ErrorCode::BadFrame, "call 1 to 10 visitors"));
        }
        self.counter += 1;
        let call_id = format!("call-{now:x}-{}", self.counter);
        self.calls.insert(
            call_id.clone(),
            Call {
                agent: me.as_ref(),
                participants: BTreeMap::new(),
                seats_made: 0,
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
        ctx: &mut Ctx<'_>,
        call_id: &str,
        visitor_ids: &[String],
        eligible: &BTreeSet<String>,
    ) -> Result<(), FrameError> {
        let call = &self.calls[call_id];
        let active = call
            .participants
            .values()
            .filter(|s| live(&s.state))
            .count();
        if active + visitor_ids.len() > MAX_ROOM_PARTICIPANTS - 1 {
            return Err(error(
                ErrorCode::BadFrame,
                "a call holds at most 10 visitors",
            ));
        }
        for v in visitor_ids {
            if !eligible.contains(v) {
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
        let agent_name = call.agent.name.clone();
        for v in visitor_ids {
            let seated = self.calls[call_id].participants.get(v).map(|s| s.state);
            if matches!(
                seated,
                Some(CallParticipantState::Joined | CallParticipantState::Invited)
            ) {
                continue;
            }
            let seat = self.new_seat(call_id, v, CallParticipantState::Invited);
            if let Some(preview) = self.join_info(call_id, &seat, CallRole::Preview, ctx.now) {
                ctx.to_visitor(
                    v,
                    VisitorServerFrame::CallInvite {
                        call_id: call_id.to_string(),
                        agent_name: agent_name.clone(),
                        preview,
                    },
                );
            }
        }
        self.changed(ctx, call_id);
        Ok(())
    }

    fn host_join(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, call_id: &str) {
        if let Some(join) = self.join_info(call_id, HOST, CallRole::Host, ctx.now) {
            ctx.to_agent(
                conn,
                AgentServerFrame::CallJoin {
                    call_id: call_id.to_string(),
                    join,
                },
            );
        }
    }

    fn end_call(&mut self, ctx: &mut Ctx<'_>, call_id: &str, reason: CallEnd) {
        let Some(call) = self.calls.remove(call_id) else {
            return;
        };
        // On the node: everyone out, and no token still held opens the room again.
        self.command(ctx, call_id, MediaCommandKind::End);
        // C14: whoever was still in it gets the duration now; the media node's later
        // events for this room find no call and add nothing.
        for (v, joined) in &call.joined_at {
            ctx.emit(Event::CallNote {
                visitor_id: v.clone(),
                agent: call.agent.clone(),
                note: ChatEvent::CallEnded {
                    seconds: ctx.now.saturating_sub(*joined) / 1000,
                },
            });
        }
        for (v, seat) in &call.participants {
            if live(&seat.state) {
                ctx.to_visitor(
                    v,
                    VisitorServerFrame::CallClosed {
                        call_id: call_id.to_string(),
                        reason,
                    },
                );
            }
            ctx.emit(Event::RowChanged(v.clone()));
        }
        let agent_id = call.agent.agent_id.clone();
        ctx.to_agents(
            |a| a.identity.agent_id == agent_id,
            AgentServerFrame::CallEnded {
                call_id: call_id.to_string(),
                reason,
            },
        );
    }

    /// An agent's tab closed. A call whose host is gone for good (no tab left) and that
    /// nobody joined yet is cancelled; after a reload the portal rejoins within the media
    /// node's grace, so a call with people in it waits for the node's word.
    pub fn agent_conn_closed(&mut self, ctx: &mut Ctx<'_>, agent_id: &str) {
        if !ctx.roster.agent_conns_of(agent_id).is_empty() {
            return;
        }
        if let Some(call_id) = self.call_of_agent(agent_id).map(str::to_string) {
            if self.joined(&call_id).is_empty() {
                self.end_call(ctx, &call_id, CallEnd::Cancelled);
            }
        }
    }

    /// C14: the media node's account of the call, written into each visitor's chat. A
    /// stale or replayed event changes nothing.
    pub fn event(&mut self, ctx: &mut Ctx<'_>, event: CallEvent) {
        if !self.seen_events.admit(&event.nonce, event.at, ctx.now) {
            return;
        }
        let room = event.room;
        // The node knows visitors by seat only.
        let visitor_of = |call: &Call, seat: &str| {
            call.participants
                .iter()
                .find(|(_, s)| s.participant == seat)
                .map(|(v, s)| (v.clone(), s.state))
        };
        match event.kind {
            CallEventKind::ParticipantJoined {
                participant,
                role: CallRole::Guest,
            } => {
                let Some(call) = self.calls.get_mut(&room) else {
                    return;
                };
                let Some((visitor_id, _)) = visitor_of(call, &participant) else {
                    return;
                };
                if call.joined_at.contains_key(&visitor_id) {
                    return;
                }
                call.joined_at.insert(visitor_id.clone(), event.at);
                let agent = call.agent.clone();
                ctx.emit(Event::CallNote {
                    visitor_id,
                    note: ChatEvent::CallStarted {
                        agent: agent.name.clone(),
                    },
                    agent,
                });
            }
            CallEventKind::ParticipantLeft {
                participant,
                role: CallRole::Guest,
            } => {
                let Some(call) = self.calls.get_mut(&room) else {
                    return;
                };
                let Some((visitor_id, state)) = visitor_of(call, &participant) else {
                    return;
                };
                let Some(joined) = call.joined_at.remove(&visitor_id) else {
                    return;
                };
                ctx.emit(Event::CallNote {
                    visitor_id: visitor_id.clone(),
                    agent: call.agent.clone(),
                    note: ChatEvent::CallEnded {
                        seconds: event.at.saturating_sub(joined) / 1000,
                    },
                });
                // Their media left (closed tab, lost network): not in the call any more.
                if state == CallParticipantState::Joined
                    && ctx.roster.visitor_conns(&visitor_id).is_empty()
                {
                    self.participant_leaves(
                        ctx,
                        &room,
                        &visitor_id,
                        CallParticipantState::Left,
                        CallEnd::Left,
                    );
                }
            }
            CallEventKind::RoomEnded { .. } => self.end_call(ctx, &room, CallEnd::Ended),
            CallEventKind::RoomStarted
            | CallEventKind::ParticipantJoined { .. }
            | CallEventKind::ParticipantLeft { .. } => {}
        }
    }
}
