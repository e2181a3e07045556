//! Every wire type, defined once: the frames between browsers and the hub (this module),
//! the media node's signaling and call events ([`media`]), and the HTTP API's requests and
//! answers ([`http`]). The TypeScript types in `web/shared/protocol.ts` are generated
//! from them (`cargo xtask gen-types`); a test fails when that file is stale.

pub mod http;
pub mod media;

use serde::{Deserialize, Serialize};
use strum::{EnumDiscriminants, EnumIter};
use ts_rs::TS;

pub use crate::clock::UnixMillis;
pub use crate::store::accounts::Language;
use media::CallRole;

/// Bumped on any incompatible change; clients send it in their `hello`.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest frame a browser may send. Anything bigger is refused before it is parsed.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_TITLE_CHARS: usize = 300;
pub const MAX_ID_CHARS: usize = 64;
/// Longest chat message text, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// Longest typing preview the widget may send, in characters.
pub const MAX_DRAFT_CHARS: usize = 2000;
/// P8: one chunk of recorded page events (a frame stays under `MAX_FRAME_BYTES`).
pub const MAX_COBROWSE_CHUNK: usize = 12_000;
/// P8: how often a viewer repeats `cobrowse_start`. Sessions are soft state: a hub that
/// lost them (a Durable Object's memory gone) has them back within this time.
pub const COBROWSE_REFRESH_MS: u64 = 20_000;
pub const MAX_NAME_CHARS: usize = 120;

/// An adapter's number for one open connection (socket), unique within its process.
pub type ConnId = u64;

// ---------------------------------------------------------------------------------------
// Visitor ↔ hub
// ---------------------------------------------------------------------------------------

/// A frame the widget sends. [`VisitorFrameType`] names its `type`s (the decoder tells
/// a known type with bad fields from an unknown one by it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, EnumDiscriminants)]
#[strum_discriminants(
    name(VisitorFrameType),
    derive(Serialize, Deserialize, EnumIter),
    serde(rename_all = "snake_case")
)]
#[serde(tag = "type", rename_all = "snake_case")]
#[serde(deny_unknown_fields)]
pub enum VisitorFrame {
    /// First frame on every connection; also resent after each reconnect so a restarted
    /// hub rebuilds its state from the widgets.
    Hello {
        v: u32,
        /// Who this browser is, as the hub told it before (`welcome`). Without it, or with
        /// one that does not verify, the hub makes a new visitor: an ID alone proves nothing.
        #[serde(default)]
        credential: Option<VisitorCredential>,
        /// Client-generated, time-sortable ID of the current visit (new after 30 min idle).
        visit_id: String,
        /// How long ago (client clock) the visit started; the hub turns it into server time.
        visit_age_ms: u64,
        page: PageView,
        #[serde(default)]
        activity: Activity,
        /// The last chat message sequence number this widget has shown; the hub answers
        /// with the open conversation and every message after it (B2).
        #[serde(default)]
        chat_after_seq: u64,
    },
    /// The visitor opened a new page (full load or an SPA navigation).
    PageView(PageView),
    /// Tab hidden / no input for a while (`idle`) or back (`active`).
    Activity { state: Activity },
    /// Keep-alive; the hub answers `pong`. (Braces, so unknown fields are refused.)
    Ping {},
    /// The page is going away (pagehide). The hub waits a short grace period for the next
    /// page of the same visitor before showing them offline.
    Leave {},
    /// A chat message. Starts a pending conversation when the visitor has none open (C1).
    /// `client_id` makes resends idempotent: the hub answers `message_ack` once stored.
    SendMessage {
        client_id: String,
        text: String,
        /// The page the visitor wrote from (C5).
        page_url: String,
        /// Name and e-mail from the "leave a message" form, both optional.
        #[serde(default)]
        contact: Option<Contact>,
    },
    /// The visitor's current draft, for the agent's typing preview (C4). Empty = cleared.
    Typing { draft: String },
    /// The visitor closes the conversation from the widget (C10).
    EndConversation {},
    /// V2: the visitor asks for a call. `cancel: true` withdraws the request.
    CallRequest { cancel: bool },
    /// V1/V4: the visitor's answer to a call invitation.
    CallAnswer { call_id: String, accept: bool },
    /// The visitor hangs up.
    CallHangup { call_id: String },
    /// K1: the shop says who this visitor is (`Vitrine.identify`). `signature` is the
    /// hex HMAC-SHA256 of `identity.id` made by the shop's backend with the site's
    /// identity secret; sites that require it refuse an identity without a valid one.
    Identify {
        identity: Identity,
        #[serde(default)]
        signature: Option<String>,
    },
    /// K4: something the shop reports (`Vitrine.track`): a cart, a purchase.
    Track { event: ShopEvent },
    /// K3: e-mail me this conversation's transcript.
    Transcript {
        conversation_id: String,
        email: String,
    },
    /// P8: the visitor lets the agents view the page (after `cobrowse_request`), or not.
    CobrowseConsent { accept: bool },
    /// P8: the visitor stops the viewing.
    CobrowseStop {},
    /// P8: recorded page events (rrweb's, as JSON): `chunk`s of one batch in order,
    /// `last` on the batch's final one. Opaque to the hub, which relays them to viewers.
    CobrowseEvents { seq: u64, chunk: String, last: bool },
}

/// Who the shop says a visitor is. `id` is the shop's own user ID: one contact per ID
/// and site, whatever browser it is identified in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ShopEventKind {
    /// The cart now holds `items`, worth `value`.
    Cart,
    /// The visitor bought `items` for `value`.
    Purchase,
}

/// A shop event. `event_id` is the widget's, so a resend is stored once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ShopEvent {
    pub event_id: String,
    pub kind: ShopEventKind,
    /// In the shop's currency units (49.9 = 49.90 €).
    #[serde(default)]
    pub value: f64,
    #[serde(default)]
    pub currency: Option<String>,
    /// The products' page URLs (matched to the catalogue by URL).
    #[serde(default)]
    pub items: Vec<String>,
}

/// Most products one shop event may name.
pub const MAX_EVENT_ITEMS: usize = 50;

/// A visitor's ID and the hub's signature over it (for this site): what the widget keeps
/// and presents in every `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct VisitorCredential {
    pub visitor_id: String,
    pub signature: String,
}

/// One page view. `seq` numbers the views of a visit, so resends are idempotent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct PageView {
    pub seq: u32,
    pub url: String,
    pub title: String,
    #[serde(default)]
    pub referrer: Option<String>,
    /// How long ago (client clock) the page was opened; 0 for a fresh view.
    #[serde(default)]
    pub opened_ms_ago: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    #[default]
    Active,
    Idle,
}

/// Why a call is over for someone; each UI says it in its own words and language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CallEnd {
    /// The agent ended it, or the media node closed the room.
    Ended,
    /// The agent cancelled it before anyone joined.
    Cancelled,
    /// This visitor declined the invitation.
    Declined,
    /// This visitor hung up.
    Left,
    /// The agent removed this visitor.
    Removed,
    /// Another tab of this visitor answered; this one just stops ringing.
    AnsweredElsewhere,
}

/// A frame the hub sends to a widget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VisitorServerFrame {
    Welcome {
        v: u32,
        /// Who this browser is for this site, from now on; the widget keeps it.
        credential: VisitorCredential,
        agents_available: bool,
        /// Whether a `conversation` frame follows (the visitor has an open conversation).
        has_conversation: bool,
        /// V11: whether the widget may offer calls at all.
        calls: bool,
        /// C9: this visitor is blocked here (no chat, no call requests).
        blocked: bool,
        /// B4: the language the site's admin chose for the widget; `null`: the browser's.
        language: Option<Language>,
        /// C4: whether the widget sends drafts as the visitor types (and says so).
        typing_preview: bool,
    },
    /// Whether any agent of the site is available changed (P5).
    Availability {
        agents_available: bool,
    },
    Pong,
    Error(ErrorFrame),
    /// The visitor's open conversation (or its end), with the messages after the widget's
    /// cursor. Sent after `hello`, and whenever the conversation changes.
    Conversation {
        conversation: VisitorConversation,
        messages: Vec<ChatMessage>,
    },
    /// A new message in the visitor's conversation (stored before it is sent).
    Message {
        message: ChatMessage,
    },
    /// The visitor's message `client_id` is stored as `seq`.
    MessageAck {
        conversation_id: String,
        client_id: String,
        seq: u64,
    },
    /// An agent is typing (the visitor never sees the agent's draft, C4).
    AgentTyping {
        typing: bool,
    },
    /// An agent calls (V1/V4). `preview` lets the widget show the agent's camera before
    /// answering (receive-only, the agent only).
    CallInvite {
        call_id: String,
        agent_name: String,
        preview: CallJoinInfo,
    },
    /// Join (or, after a navigation, rejoin) the call on the media node.
    CallJoin {
        call_id: String,
        join: CallJoinInfo,
    },
    /// The call is over for this visitor (ended, cancelled, removed, declined elsewhere).
    CallClosed {
        call_id: String,
        reason: CallEnd,
    },
    /// V2: the call request is registered (the agents see it) or withdrawn.
    CallRequested {
        pending: bool,
    },
    /// V7: every agent who could answer is in a call (or none is available any more);
    /// the request was not added.
    CallBusy {},
    /// C9: the visitor was blocked on this site, or unblocked.
    Blocked {
        blocked: bool,
    },
    /// V11: calls switched on or off for the site.
    Calls {
        enabled: bool,
    },
    /// V8: the agent sends the visitor's browser to this URL.
    Navigate {
        url: String,
    },
    /// V9: the agent handed control to the visitors (true) or took it back.
    Interaction {
        allowed: bool,
    },
    /// K3: the transcript will be e-mailed to this address — at once when the shop vouched
    /// for it, else once its owner followed the link a first e-mail carries (`confirm`).
    TranscriptQueued {
        email: String,
        confirm: bool,
    },
    /// P8: an agent asks to view the page; the widget asks the visitor.
    CobrowseRequest {
        agent_name: String,
    },
    /// P8: start recording this page for the viewers (and say so, visibly).
    CobrowseStart {
        agent_name: String,
    },
    /// P8: send a full snapshot (a viewer joined late, or the stream was cut).
    CobrowseSnapshot {},
    /// P8: nobody views the page any more: stop recording.
    CobrowseEnd {},
    /// P8: an agent points at this spot of the visitor's viewport (fractions of its size).
    CobrowsePoint {
        x: f64,
        y: f64,
        agent_name: String,
    },
}

/// Where and how to join a room on the media node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CallJoinInfo {
    /// ws(s)://…/ws/call
    pub url: String,
    pub room: String,
    pub token: String,
    pub role: CallRole,
    /// The relays to reach the node through (`RTCIceServer`s) when the network drops UDP;
    /// empty without one. Their credentials expire by themselves (`crate::turn`).
    pub ice_servers: Vec<IceServer>,
}

/// B3: where a standard client publishes (WHIP) or watches (WHEP) a call, and the bearer
/// token it sends. Tokens open the room until `expires_at`; ending the call closes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StreamKey {
    /// https://…/whip/<room> or …/whep/<room>
    pub url: String,
    pub token: String,
    pub expires_at: UnixMillis,
}

/// One `RTCIceServer`, as the browser's `RTCPeerConnection` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub credential: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CallParticipantState {
    Invited,
    Joined,
    Declined,
    Left,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CallParticipant {
    pub visitor_id: String,
    /// The visitor's opaque ID in this call's room (what the media node and the other
    /// participants know them by; never their visitor ID).
    pub participant: String,
    pub state: CallParticipantState,
}

/// A call as its agent sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CallSummary {
    pub call_id: String,
    pub agent_id: String,
    pub participants: Vec<CallParticipant>,
    pub created_at: UnixMillis,
    pub interaction_allowed: bool,
    /// The last URL the agent sent everyone to (V9 re-sync target).
    pub agent_url: Option<String>,
}

/// What the widget knows about its conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct VisitorConversation {
    pub conversation_id: String,
    pub status: ConversationStatus,
    /// Display name of the agent handling it, once taken.
    pub agent_name: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Chat (shared by both roles)
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// Waiting for an agent to take it (all agents of the site see it).
    Pending,
    /// Owned by one agent.
    Active,
    /// Ended; history. An agent can reopen it.
    Closed,
}

/// Who the visitor said they are (leave-a-message form); both optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AgentRef {
    pub agent_id: String,
    pub name: String,
}

/// A conversation as the portal lists it in its folders (C3) and the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ConversationSummary {
    pub conversation_id: String,
    pub visitor_id: String,
    pub status: ConversationStatus,
    pub owner: Option<AgentRef>,
    pub contact: Contact,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    /// Start of the last message, for the folder list.
    pub preview: String,
    /// Highest message sequence number so far.
    pub last_seq: u64,
    /// Visitor messages the agents have not read yet (P7's red dot).
    pub unread: u32,
    /// An agent started it (C2).
    pub proactive: bool,
}

/// One message of a conversation. `seq` orders it (per conversation, from 1, gaps allowed);
/// `client_id` is the sender's ID for it, so a resend is recognised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ChatMessage {
    pub conversation_id: String,
    pub seq: u64,
    pub client_id: String,
    pub author: Author,
    pub body: MessageBody,
    /// For visitor messages: the page they wrote from (C5).
    pub page_url: Option<String>,
    pub at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Author {
    Visitor,
    Agent {
        agent_id: String,
        name: String,
    },
    /// Lifecycle notes (taken, transferred, ended…).
    System,
}

/// What a message carries. Text is always text (never markup); links and images are
/// only http(s) URLs or blobs of the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MessageBody {
    Text {
        text: String,
    },
    /// An image uploaded by an agent to the blob store (`/blobs/{blob_id}`).
    Image {
        blob_id: String,
    },
    /// A commercial offer prepared by an admin (C6).
    Offer {
        title: String,
        text: String,
        image_url: Option<String>,
        link_url: String,
    },
    /// A product picked from the catalogue (C6).
    Product {
        name: String,
        brand: String,
        price: String,
        image_url: Option<String>,
        url: String,
    },
    /// A lifecycle note written by the hub: `event` says what happened (UIs word it in
    /// their language); `text` is the same in English (search, previews, e-mails, and
    /// notes stored before `event` existed).
    Event {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        event: Option<ChatEvent>,
    },
}

/// What a conversation's lifecycle note records (C14, C7–C11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatEvent {
    Joined {
        name: String,
    },
    Transferred {
        from: String,
        to: String,
    },
    /// `by`: the agent who ended it; `None`, the visitor.
    Ended {
        by: Option<String>,
    },
    Reopened {
        name: String,
    },
    CallStarted {
        agent: String,
    },
    CallEnded {
        seconds: u64,
    },
}

impl ChatEvent {
    /// The note in English, as stored in `MessageBody::Event::text`.
    pub fn english(&self) -> String {
        match self {
            ChatEvent::Joined { name } => format!("{name} joined the conversation"),
            ChatEvent::Transferred { from, to } => {
                format!("{from} transferred the conversation to {to}")
            }
            ChatEvent::Ended { by: Some(name) } => format!("{name} ended the conversation"),
            ChatEvent::Ended { by: None } => "The visitor ended the conversation".into(),
            ChatEvent::Reopened { name } => format!("{name} reopened the conversation"),
            ChatEvent::CallStarted { agent } => format!("Call started with {agent}"),
            ChatEvent::CallEnded { seconds } => {
                format!("Call ended · {}:{:02}", seconds / 60, seconds % 60)
            }
        }
    }

    /// The body of the note.
    pub fn body(self) -> MessageBody {
        MessageBody::Event {
            text: self.english(),
            event: Some(self),
        }
    }
}

impl MessageBody {
    /// A short plain-text rendering for folder previews.
    pub fn preview(&self) -> String {
        let text = match self {
            MessageBody::Text { text } | MessageBody::Event { text, .. } => text.as_str(),
            MessageBody::Image { .. } => "[image]",
            MessageBody::Offer { title, .. } => title.as_str(),
            MessageBody::Product { name, .. } => name.as_str(),
        };
        text.chars().take(80).collect()
    }
}

/// An agent connected to the site now (transfer targets, C8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct OnlineAgent {
    pub agent_id: String,
    pub name: String,
    pub expert: bool,
    pub available: bool,
}

// ---------------------------------------------------------------------------------------
// Agent ↔ hub
// ---------------------------------------------------------------------------------------

/// A frame the portal sends. Agents are authenticated when the socket opens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, EnumDiscriminants)]
#[strum_discriminants(
    name(AgentFrameType),
    derive(Serialize, Deserialize, EnumIter),
    serde(rename_all = "snake_case")
)]
#[serde(tag = "type", rename_all = "snake_case")]
#[serde(deny_unknown_fields)]
pub enum AgentFrame {
    /// Turn this agent's availability on or off (P5).
    SetAvailability {
        available: bool,
    },
    Ping {},
    /// Open a conversation with a visitor of the live list (proactive chat, C2).
    StartConversation {
        visitor_id: String,
        client_id: String,
        body: MessageBody,
    },
    /// Take a pending conversation: it becomes Active and this agent's (C1).
    Take {
        conversation_id: String,
    },
    SendMessage {
        conversation_id: String,
        client_id: String,
        body: MessageBody,
    },
    /// Whether this agent is typing (the visitor sees only "agent is typing…").
    Typing {
        conversation_id: String,
        typing: bool,
    },
    /// The agent has read everything up to `seq`.
    MarkRead {
        conversation_id: String,
        seq: u64,
    },
    /// Hand an active conversation to another agent or an expert online (C8).
    Transfer {
        conversation_id: String,
        to_agent_id: String,
    },
    /// End a conversation: it moves to Closed (C10).
    End {
        conversation_id: String,
    },
    /// Bring a closed conversation back as Active, owned by this agent.
    Reopen {
        conversation_id: String,
    },
    /// The visitor can no longer start conversations (C9); `blocked: false` lifts it.
    Block {
        visitor_id: String,
        blocked: bool,
    },
    /// V1/V4: call up to 10 visitors.
    CallStart {
        visitor_ids: Vec<String>,
    },
    /// V2: answer a visitor's call request.
    CallAccept {
        visitor_id: String,
    },
    /// V5: invite more visitors into a running call.
    CallAdd {
        call_id: String,
        visitor_ids: Vec<String>,
    },
    /// V5: remove a participant.
    CallRemove {
        call_id: String,
        visitor_id: String,
    },
    /// Cancel while setting up, or end: the call is over for everyone.
    CallEnd {
        call_id: String,
    },
    /// B3: stream keys for an encoder and an audience of this agent's call.
    CallStreamKeys {
        call_id: String,
    },
    /// V8: send the visitor's browser (or, in a call, every participant's) to `url`.
    Navigate {
        visitor_id: String,
        url: String,
    },
    /// V9: hand control to the visitors or take it back (re-syncs them to `agent_url`).
    SetInteraction {
        call_id: String,
        allowed: bool,
    },
    /// V11: switch calls on or off for the site.
    SetCalls {
        enabled: bool,
    },
    /// P8: view this visitor's page (asks them first when the site says so).
    CobrowseStart {
        visitor_id: String,
    },
    CobrowseStop {
        visitor_id: String,
    },
    /// P8: point at this spot of the visitor's viewport (fractions of its width, height).
    CobrowsePoint {
        visitor_id: String,
        x: f64,
        y: f64,
    },
}

/// A frame the hub sends to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentServerFrame {
    /// The whole live list, sent once when the agent connects.
    Snapshot {
        visitors: Vec<LiveVisitor>,
        availability: AgentAvailability,
        /// Open conversations of the site this agent may see (pending, and their own active).
        conversations: Vec<ConversationSummary>,
        /// Agents connected to this site now.
        agents: Vec<OnlineAgent>,
        /// Visitors blocked on this site (C9).
        blocked: Vec<String>,
        server_now: UnixMillis,
    },
    /// Changes since the last update, batched (at most a few per second per agent).
    VisitorsChanged {
        upserts: Vec<LiveVisitor>,
        removed: Vec<String>,
        server_now: UnixMillis,
    },
    Availability(AgentAvailability),
    Pong,
    Error(ErrorFrame),
    /// A conversation this agent may see changed (new, taken, transferred, ended…).
    ConversationChanged {
        conversation: ConversationSummary,
    },
    /// A conversation this agent saw is no longer theirs to see (taken by or transferred
    /// to someone else): its ID and who has it now, nothing of what it says.
    ConversationHidden {
        conversation_id: String,
        owner: Option<AgentRef>,
    },
    /// A colleague handed this agent a conversation (C8); its `conversation_changed`
    /// comes with it.
    TransferredToYou {
        conversation_id: String,
        from: AgentRef,
    },
    /// A new message in a conversation this agent may read.
    Message {
        message: ChatMessage,
    },
    /// This agent's message `client_id` is stored as `seq`.
    MessageAck {
        conversation_id: String,
        client_id: String,
        seq: u64,
    },
    /// The visitor's current draft (C4). Empty when cleared or sent.
    TypingPreview {
        conversation_id: String,
        draft: String,
    },
    /// The agents connected to this site changed.
    Agents {
        agents: Vec<OnlineAgent>,
    },
    /// The blocked visitors of this site changed.
    Blocked {
        visitors: Vec<String>,
    },
    /// The agent's call changed (created, someone answered/left, interaction).
    CallChanged {
        call: CallSummary,
    },
    /// Join the media node as the call's host.
    CallJoin {
        call_id: String,
        join: CallJoinInfo,
    },
    CallEnded {
        call_id: String,
        reason: CallEnd,
    },
    /// B3: the call's stream keys, for this agent only: an encoder publishes into the
    /// call on one seat (WHIP), any number of viewers watch the agent (WHEP).
    CallStreamKeys {
        call_id: String,
        publish: StreamKey,
        watch: StreamKey,
    },
    /// V7: a visitor called while this agent was in a call.
    MissedCall {
        visitor_id: String,
        at: UnixMillis,
    },
    /// V11: calls on/off for the site (`available`: the plan includes them).
    Calls {
        available: bool,
        enabled: bool,
    },
    /// P8: where this agent's viewing of a visitor's page stands.
    Cobrowse {
        visitor_id: String,
        state: CobrowseState,
    },
    /// P8: the visitor's page events, relayed as they came (see `VisitorFrame::CobrowseEvents`).
    CobrowseEvents {
        visitor_id: String,
        seq: u64,
        chunk: String,
        last: bool,
    },
}

/// P8: a viewing session, as its agent sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CobrowseState {
    /// The visitor is asked to accept.
    Waiting,
    /// The page streams.
    Viewing,
    Refused,
    /// The visitor stopped it.
    Stopped,
    /// The visitor left the site.
    Gone,
    /// The page changes faster than the bandwidth cap: changes were dropped; a fresh
    /// snapshot follows when the page calms down.
    Degraded,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AgentAvailability {
    /// This agent's own toggle.
    pub me: bool,
    /// Whether any agent of the site is available (what the widget sees).
    pub site: bool,
    pub agents_online: u32,
}

/// One row of the live visitor list (P1, P2; slots for P4 and P7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct LiveVisitor {
    pub visitor_id: String,
    pub status: VisitorStatus,
    /// When an offline visitor's last tab closed: their times on page and on site stop
    /// there. `None` while they are online.
    pub left_at: Option<UnixMillis>,
    pub visit_started_at: UnixMillis,
    pub page: CurrentPage,
    pub location: Location,
    /// Seen on an earlier visit (from the store).
    pub returning: bool,
    /// Visits so far including this one; 0 until the store has answered.
    pub visit_count: u32,
    pub page_views_this_visit: u32,
    /// P4: in a call with an agent (filled by the call feature).
    pub in_call: bool,
    /// P7: asked for a call (filled by the call feature).
    pub call_requested: bool,
    /// P7: unread chat messages (filled by the chat feature).
    pub unread: u32,
    /// K1: who the shop says this visitor is; `None`: not identified (K5).
    pub contact: Option<ContactRef>,
}

/// An identified visitor's contact, as the live list names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ContactRef {
    pub contact_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CurrentPage {
    pub url: String,
    pub title: String,
    pub opened_at: UnixMillis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum VisitorStatus {
    Active,
    Idle,
    Offline,
}

/// Where the visitor is, from trusted edge headers only; `None` means unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Location {
    pub country: Option<String>,
    pub city: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ErrorFrame {
    pub code: ErrorCode,
    pub message: String,
    /// The message this error is about, when it is about one. The client stops resending
    /// it, unless the code says to try again (`rate_limited`, `not_saved`).
    #[serde(default)]
    pub client_id: Option<String>,
    /// The conversation the refused frame was about: the portal says it there, not
    /// everywhere.
    #[serde(default)]
    pub conversation_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or a known frame with wrong fields.
    BadFrame,
    /// Larger than `MAX_FRAME_BYTES`.
    Oversize,
    /// A `type` this endpoint does not know.
    UnknownType,
    /// A frame of another role (e.g. a visitor trying agent frames).
    Forbidden,
    UnsupportedVersion,
    /// A frame other than `hello` before `hello`, or a second `hello`.
    HelloRequired,
    InvalidField,
    /// Too many frames in a short time; the extra frames were dropped.
    RateLimited,
    /// The visitor is blocked on this site.
    Blocked,
    /// No such conversation, or not one this connection may act on.
    NotFound,
    /// The action does not fit the conversation's state (e.g. taking an active one).
    Conflict,
    /// The store could not save the message; resend it (same `client_id`).
    NotSaved,
}

/// WebSocket close codes the server uses (4000–4999 are for applications).
pub mod close_code {
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const UNKNOWN_SITE: u16 = 4404;
    pub const TIMEOUT: u16 = 4408;
    /// Over a limit: a client whose send queue filled (too slow to read), or one network
    /// address past its number of sockets. Reconnect later, with backoff.
    pub const OVER_LIMIT: u16 = 4429;
    pub const GOING_AWAY: u16 = 1001;
    /// The server cannot take the connection now (starting, or overloaded); retry later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}
