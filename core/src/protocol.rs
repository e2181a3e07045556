//! The wire protocol between browsers and the hub: versioned JSON frames, one tagged enum
//! per direction and role. These types are the single source of truth; the TypeScript
//! types in `web/shared/protocol.ts` are generated from them (`cargo xtask gen-types`).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Bumped on any incompatible change; clients send it in their `hello`.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest frame a browser may send. Anything bigger is refused before it is parsed.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_TITLE_CHARS: usize = 300;
pub const MAX_ID_CHARS: usize = 64;

/// Milliseconds since the Unix epoch (server clock unless a field says otherwise).
pub type UnixMillis = u64;

// ---------------------------------------------------------------------------------------
// Visitor ↔ hub
// ---------------------------------------------------------------------------------------

/// A frame the widget sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[serde(deny_unknown_fields)]
pub enum VisitorFrame {
    /// First frame on every connection; also resent after each reconnect so a restarted
    /// hub rebuilds its state from the widgets.
    Hello {
        v: u32,
        /// Stable first-party ID of this browser for this site.
        visitor_id: String,
        /// Client-generated, time-sortable ID of the current visit (new after 30 min idle).
        visit_id: String,
        /// How long ago (client clock) the visit started; the hub turns it into server time.
        visit_age_ms: u64,
        page: PageView,
        #[serde(default)]
        activity: Activity,
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

/// A frame the hub sends to a widget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VisitorServerFrame {
    Welcome {
        v: u32,
        agents_available: bool,
    },
    /// Whether any agent of the site is available changed (P5).
    Availability {
        agents_available: bool,
    },
    Pong,
    Error(ErrorFrame),
}

// ---------------------------------------------------------------------------------------
// Agent ↔ hub
// ---------------------------------------------------------------------------------------

/// A frame the portal sends. Agents are authenticated when the socket opens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[serde(deny_unknown_fields)]
pub enum AgentFrame {
    /// Turn this agent's availability on or off (P5).
    SetAvailability {
        available: bool,
    },
    Ping {},
}

/// A frame the hub sends to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentServerFrame {
    /// The whole live list, sent once when the agent connects.
    Snapshot {
        visitors: Vec<LiveVisitor>,
        availability: AgentAvailability,
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
}

/// WebSocket close codes the server uses (4000–4999 are for applications).
pub mod close_code {
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const UNKNOWN_SITE: u16 = 4404;
    pub const TIMEOUT: u16 = 4408;
    pub const TOO_SLOW: u16 = 4429;
    pub const GOING_AWAY: u16 = 1001;
}
