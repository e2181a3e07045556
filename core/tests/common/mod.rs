//! Helpers shared by the hub test files: the frames a hub step sent to one connection.

use vitrine_core::hub::Output;
use vitrine_core::protocol::{AgentServerFrame, VisitorServerFrame};

pub fn to_agent(out: &[Output], conn: u64) -> Vec<AgentServerFrame> {
    out.iter()
        .filter_map(|o| match o {
            Output::ToAgent { conn: c, frame } if *c == conn => Some(frame.clone()),
            _ => None,
        })
        .collect()
}

pub fn to_visitor(out: &[Output], conn: u64) -> Vec<VisitorServerFrame> {
    out.iter()
        .filter_map(|o| match o {
            Output::ToVisitor { conn: c, frame } if *c == conn => Some(frame.clone()),
            _ => None,
        })
        .collect()
}
