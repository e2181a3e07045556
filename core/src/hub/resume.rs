//! What a connection needs to survive its hub being rebuilt: a Durable Object is evicted
//! from memory while its sockets stay open (hibernation), and the next event finds a new,
//! empty hub. The adapter keeps each socket's [`Resumable`] beside the socket (a Durable
//! Object's socket attachment), hands them back as [`super::Input::Resume`], and the hub
//! takes the connections back silently: no welcome, no snapshot, no store writes; the
//! browsers keep what they have. Conversations come back from the store as usual.
//!
//! A hub makes these only when [`super::HubConfig::remember`] is on
//! ([`super::Output::Remember`] after every input that changed one).

use serde::{Deserialize, Serialize};

use super::AgentIdentity;
use crate::protocol::{Activity, ContactRef, CurrentPage, Location, UnixMillis};

/// A hibernation attachment is at most 2 KiB; a page's URL and title are cut to fit.
const MAX_URL: usize = 800;
const MAX_TITLE: usize = 200;
const MAX_CONTACT_FIELD: usize = 100;

// Made and handed to the adapter at once (a socket attachment holds its JSON, not this).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "side", rename_all = "snake_case")]
pub enum Resumable {
    Visitor {
        address: String,
        location: Location,
        nonce: [u8; 16],
        /// Said `leave`: counts for no one.
        left: bool,
        activity: Activity,
        /// Who said `hello` on it, with what the live list shows of them.
        visitor: Option<SeenVisitor>,
    },
    Agent {
        agent: AgentIdentity,
        session: String,
        available: bool,
    },
}

/// A visitor's row as the hub had it (the parts no frame would resend).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenVisitor {
    pub visitor_id: String,
    pub visit_id: String,
    pub visit_started_at: UnixMillis,
    pub visit_count: u32,
    pub page: CurrentPage,
    pub page_seq: u32,
    /// K1: who the shop said they are.
    #[serde(default)]
    pub contact: Option<ContactRef>,
}

impl SeenVisitor {
    pub(super) fn cut(mut self) -> Self {
        cut(&mut self.page.url, MAX_URL);
        cut(&mut self.page.title, MAX_TITLE);
        if let Some(contact) = &mut self.contact {
            for field in [&mut contact.name, &mut contact.email]
                .into_iter()
                .flatten()
            {
                cut(field, MAX_CONTACT_FIELD);
            }
        }
        self
    }
}

fn cut(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_visitor_fits_an_attachment() {
        let long = "é".repeat(10_000);
        let seen = SeenVisitor {
            visitor_id: "v".repeat(22),
            visit_id: "x".repeat(64),
            visit_started_at: u64::MAX,
            visit_count: u32::MAX,
            page: CurrentPage {
                url: long.clone(),
                title: long.clone(),
                opened_at: u64::MAX,
            },
            page_seq: u32::MAX,
            contact: Some(ContactRef {
                contact_id: "c".repeat(64),
                name: Some(long.clone()),
                email: Some(long.clone()),
            }),
        }
        .cut();
        let state = Resumable::Visitor {
            address: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".into(),
            location: Location {
                country: Some("x".repeat(64)),
                city: Some("y".repeat(64)),
            },
            nonce: [255; 16],
            left: false,
            activity: Activity::Idle,
            visitor: Some(seen),
        };
        let json = serde_json::to_string(&state).unwrap();
        assert!(json.len() <= 2048, "{} bytes", json.len());
    }
}

/// Whose [`Resumable`] a frame from a connection changes. Exhaustive on purpose: a new
/// frame must say, or a change would never reach the Durable Object's saved state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Touches {
    Nobody,
    /// The sender's own connection.
    Sender,
    /// Every tab of the sender's visitor (the page is the visitor's).
    VisitorTabs,
}

pub(super) fn visitor_frame_touches(frame: &crate::protocol::VisitorFrame) -> Touches {
    use crate::protocol::VisitorFrame as F;
    match frame {
        F::Activity { .. } | F::Leave {} => Touches::Sender,
        F::Hello { .. } | F::PageView(_) => Touches::VisitorTabs,
        F::Ping {}
        | F::SendMessage { .. }
        | F::Typing { .. }
        | F::EndConversation {}
        | F::CallRequest { .. }
        | F::CallAnswer { .. }
        | F::CallHangup { .. }
        | F::Identify { .. }
        | F::Track { .. }
        | F::Transcript { .. }
        | F::CobrowseConsent { .. }
        | F::CobrowseStop {}
        | F::CobrowseEvents { .. } => Touches::Nobody,
    }
}

pub(super) fn agent_frame_touches(frame: &crate::protocol::AgentFrame) -> Touches {
    use crate::protocol::AgentFrame as F;
    match frame {
        F::SetAvailability { .. } => Touches::Sender,
        F::Ping {}
        | F::StartConversation { .. }
        | F::Take { .. }
        | F::SendMessage { .. }
        | F::Typing { .. }
        | F::MarkRead { .. }
        | F::Transfer { .. }
        | F::End { .. }
        | F::Reopen { .. }
        | F::Block { .. }
        | F::CallStart { .. }
        | F::CallAccept { .. }
        | F::CallAdd { .. }
        | F::CallRemove { .. }
        | F::CallEnd { .. }
        | F::CallStreamKeys { .. }
        | F::Navigate { .. }
        | F::SetInteraction { .. }
        | F::SetCalls { .. }
        | F::CobrowseStart { .. }
        | F::CobrowseStop { .. }
        | F::CobrowsePoint { .. } => Touches::Nobody,
    }
}
