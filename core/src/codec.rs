//! Decoding and validating frames from browsers. Every error becomes an [`ErrorFrame`] the
//! adapter sends back; the connection stays usable unless the error says otherwise.

use serde::de::DeserializeOwned;

use crate::hub::Input;
use crate::protocol::media::MAX_ROOM_PARTICIPANTS;
use crate::protocol::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
    /// The message refused, if the error is about one (see [`ErrorFrame::client_id`]).
    pub client_id: Option<String>,
    /// The conversation the frame was about (see [`ErrorFrame::conversation_id`]).
    pub conversation_id: Option<String>,
}

impl FrameError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            client_id: None,
            conversation_id: None,
        }
    }

    /// The same error, said in the conversation `id`.
    pub fn in_conversation(mut self, id: &str) -> Self {
        self.conversation_id = Some(id.to_string());
        self
    }

    /// The same error, about the message `client_id`.
    pub fn about(mut self, client_id: &str) -> Self {
        self.client_id = Some(client_id.to_string());
        self
    }

    pub fn to_frame(&self) -> ErrorFrame {
        ErrorFrame {
            code: self.code,
            message: self.message.clone(),
            client_id: self.client_id.clone(),
            conversation_id: self.conversation_id.clone(),
        }
    }
}

/// Decodes and validates a frame from a visitor's widget.
pub fn decode_visitor_frame(text: &str) -> Result<VisitorFrame, FrameError> {
    let frame = decode::<VisitorFrame, VisitorFrameType, AgentFrameType>(text)?;
    validate_visitor_frame(&frame)?;
    Ok(frame)
}

/// Decodes and validates a frame from an agent's portal.
pub fn decode_agent_frame(text: &str) -> Result<AgentFrame, FrameError> {
    let frame = decode::<AgentFrame, AgentFrameType, VisitorFrameType>(text)?;
    validate_agent_frame(&frame)?;
    Ok(frame)
}

/// Which endpoint a socket is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Visitor,
    Agent,
}

/// A WebSocket data message as the transport delivered it.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    Text(&'a str),
    Binary,
}

/// Turns one WebSocket message into the hub's input: the decoded frame, or what was
/// wrong with it (the hub answers errors, and closes on oversize). Adapters call this on
/// every data message; it may run off the hub's thread.
pub fn inbound(conn: ConnId, side: Side, payload: Payload<'_>) -> Input {
    let text = match payload {
        Payload::Text(text) => text,
        Payload::Binary => {
            let error = FrameError::new(
                ErrorCode::BadFrame,
                "binary frames are not supported; send JSON text",
            );
            return Input::Rejected { conn, error };
        }
    };
    match side {
        Side::Visitor => match decode_visitor_frame(text) {
            Ok(frame) => Input::FromVisitor { conn, frame },
            Err(error) => Input::Rejected { conn, error },
        },
        Side::Agent => match decode_agent_frame(text) {
            Ok(frame) => Input::FromAgent { conn, frame },
            Err(error) => Input::Rejected { conn, error },
        },
    }
}

/// Decodes a frame of one side; on failure works out why, to give the client an error it
/// can act on. `Own` and `Other` are the two sides' frame-type enums, derived from the
/// frame enums themselves (so a new frame can never be "unknown" to the decoder).
fn decode<T: DeserializeOwned, Own: DeserializeOwned, Other: DeserializeOwned>(
    text: &str,
) -> Result<T, FrameError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(FrameError::new(
            ErrorCode::Oversize,
            format!("frame of {} bytes exceeds {MAX_FRAME_BYTES}", text.len()),
        ));
    }
    let err = match serde_json::from_str::<T>(text) {
        Ok(frame) => return Ok(frame),
        Err(err) => err,
    };
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| FrameError::new(ErrorCode::BadFrame, format!("not JSON: {e}")))?;
    let Some(kind) = value.get("type").and_then(|t| t.as_str()) else {
        return Err(FrameError::new(
            ErrorCode::BadFrame,
            "a frame is a JSON object with a string \"type\"",
        ));
    };
    let named = |kind: &str| serde_json::Value::String(kind.to_string());
    if serde_json::from_value::<Own>(named(kind)).is_ok() {
        Err(FrameError::new(
            ErrorCode::BadFrame,
            format!("bad \"{kind}\" frame: {err}"),
        ))
    } else if serde_json::from_value::<Other>(named(kind)).is_ok() {
        Err(FrameError::new(
            ErrorCode::Forbidden,
            format!("\"{kind}\" is not allowed on this connection"),
        ))
    } else {
        Err(FrameError::new(
            ErrorCode::UnknownType,
            format!("unknown frame type \"{}\"", truncate(kind, 40)),
        ))
    }
}

fn validate_visitor_frame(frame: &VisitorFrame) -> Result<(), FrameError> {
    match frame {
        VisitorFrame::Hello {
            v,
            credential,
            visit_id,
            page,
            ..
        } => {
            if *v != PROTOCOL_VERSION {
                return Err(FrameError::new(
                    ErrorCode::UnsupportedVersion,
                    format!(
                        "protocol version {v} is not supported (server speaks {PROTOCOL_VERSION})"
                    ),
                ));
            }
            if let Some(credential) = credential {
                validate_id("credential.visitor_id", &credential.visitor_id)?;
                validate_length("credential.signature", &credential.signature, 64)?;
            }
            validate_id("visit_id", visit_id)?;
            validate_page(page)
        }
        VisitorFrame::PageView(page) => validate_page(page),
        VisitorFrame::SendMessage {
            client_id,
            text,
            page_url,
            contact,
        } => {
            validate_id("client_id", client_id)?;
            validate_text("text", text, MAX_MESSAGE_CHARS)?;
            validate_http_url("page_url", page_url)?;
            if let Some(contact) = contact {
                validate_contact(contact)?;
            }
            Ok(())
        }
        VisitorFrame::Typing { draft } => validate_length("draft", draft, MAX_DRAFT_CHARS),
        VisitorFrame::CallAnswer { call_id, .. } | VisitorFrame::CallHangup { call_id } => {
            validate_id("call_id", call_id)
        }
        VisitorFrame::Identify {
            identity,
            signature,
        } => {
            validate_identity(identity)?;
            match signature {
                Some(signature) => validate_length("signature", signature, 128),
                None => Ok(()),
            }
        }
        VisitorFrame::Track { event } => validate_shop_event(event),
        VisitorFrame::Transcript {
            conversation_id,
            email,
        } => {
            validate_id("conversation_id", conversation_id)?;
            if email.trim().is_empty() {
                return Err(FrameError::new(
                    ErrorCode::InvalidField,
                    "email must not be empty",
                ));
            }
            validate_email(email.trim())
        }
        VisitorFrame::CobrowseEvents { chunk, .. } => {
            validate_length("chunk", chunk, MAX_COBROWSE_CHUNK)
        }
        VisitorFrame::CobrowseConsent { .. } | VisitorFrame::CobrowseStop {} => Ok(()),
        VisitorFrame::Activity { .. }
        | VisitorFrame::Ping {}
        | VisitorFrame::Leave {}
        | VisitorFrame::EndConversation {}
        | VisitorFrame::CallRequest { .. } => Ok(()),
    }
}

/// A shop's user ID goes into store keys: 1–64 characters of letters, digits and
/// `- _ . @ + :` (numbers, UUIDs and e-mail addresses all fit; `#` and spaces do not).
pub fn validate_contact_id(id: &str) -> Result<(), FrameError> {
    let ok = (1..=MAX_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@+:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(FrameError::new(
            ErrorCode::InvalidField,
            format!(
                "identity.id must be 1–{MAX_ID_CHARS} characters of A–Z, a–z, 0–9 and - _ . @ + :"
            ),
        ))
    }
}

/// What the shop (or an agent editing a card) says of a contact.
pub fn validate_identity(identity: &Identity) -> Result<(), FrameError> {
    validate_contact_id(&identity.id)?;
    // No line breaks (or other control characters): the signed text is one field a line.
    for (field, value) in [
        ("identity.name", &identity.name),
        ("identity.address", &identity.address),
    ] {
        if value
            .as_deref()
            .is_some_and(|v| v.chars().any(char::is_control))
        {
            return Err(FrameError::new(
                ErrorCode::InvalidField,
                format!("{field} must be one line (no line breaks)"),
            ));
        }
    }
    if let Some(name) = &identity.name {
        validate_length("identity.name", name, MAX_NAME_CHARS)?;
    }
    if let Some(email) = &identity.email {
        validate_email(email)?;
    }
    if let Some(phone) = &identity.phone {
        let ok = phone.chars().count() <= 40
            && phone
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if !ok {
            return Err(FrameError::new(
                ErrorCode::InvalidField,
                "identity.phone must be at most 40 digits, spaces and + - ( ) .",
            ));
        }
    }
    if let Some(address) = &identity.address {
        validate_length("identity.address", address, 300)?;
    }
    Ok(())
}

pub fn validate_shop_event(event: &ShopEvent) -> Result<(), FrameError> {
    validate_id("event.event_id", &event.event_id)?;
    if !(event.value.is_finite() && (0.0..1e9).contains(&event.value)) {
        return Err(FrameError::new(
            ErrorCode::InvalidField,
            "event.value must be a number from 0 to 999,999,999",
        ));
    }
    if let Some(currency) = &event.currency {
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(FrameError::new(
                ErrorCode::InvalidField,
                "event.currency must be a three-letter ISO 4217 code (EUR, PLN…)",
            ));
        }
    }
    if event.items.len() > MAX_EVENT_ITEMS {
        return Err(FrameError::new(
            ErrorCode::InvalidField,
            format!("event.items has at most {MAX_EVENT_ITEMS} products"),
        ));
    }
    event
        .items
        .iter()
        .try_for_each(|url| validate_http_url("event.items", url))
}

fn validate_agent_frame(frame: &AgentFrame) -> Result<(), FrameError> {
    match frame {
        AgentFrame::SetAvailability { .. } | AgentFrame::Ping {} => Ok(()),
        AgentFrame::StartConversation {
            visitor_id,
            client_id,
            body,
        } => {
            validate_id("visitor_id", visitor_id)?;
            validate_id("client_id", client_id)?;
            validate_body(body)
        }
        AgentFrame::SendMessage {
            conversation_id,
            client_id,
            body,
        } => {
            validate_id("conversation_id", conversation_id)?;
            validate_id("client_id", client_id)?;
            validate_body(body)
        }
        AgentFrame::Transfer {
            conversation_id,
            to_agent_id,
        } => {
            validate_id("conversation_id", conversation_id)?;
            validate_id("to_agent_id", to_agent_id)
        }
        AgentFrame::Take { conversation_id }
        | AgentFrame::Typing {
            conversation_id, ..
        }
        | AgentFrame::MarkRead {
            conversation_id, ..
        }
        | AgentFrame::End { conversation_id }
        | AgentFrame::Reopen { conversation_id } => validate_id("conversation_id", conversation_id),
        AgentFrame::Block { visitor_id, .. } | AgentFrame::CallAccept { visitor_id } => {
            validate_id("visitor_id", visitor_id)
        }
        AgentFrame::CallStart { visitor_ids } => validate_ids(visitor_ids),
        AgentFrame::CallAdd {
            call_id,
            visitor_ids,
        } => {
            validate_id("call_id", call_id)?;
            validate_ids(visitor_ids)
        }
        AgentFrame::CallRemove {
            call_id,
            visitor_id,
        } => {
            validate_id("call_id", call_id)?;
            validate_id("visitor_id", visitor_id)
        }
        AgentFrame::CallEnd { call_id }
        | AgentFrame::CallStreamKeys { call_id }
        | AgentFrame::SetInteraction { call_id, .. } => validate_id("call_id", call_id),
        AgentFrame::Navigate { visitor_id, url } => {
            validate_id("visitor_id", visitor_id)?;
            validate_http_url("url", url)
        }
        AgentFrame::SetCalls { .. } => Ok(()),
        AgentFrame::CobrowseStart { visitor_id } | AgentFrame::CobrowseStop { visitor_id } => {
            validate_id("visitor_id", visitor_id)
        }
        AgentFrame::CobrowsePoint { visitor_id, x, y } => {
            validate_id("visitor_id", visitor_id)?;
            if !(0.0..=1.0).contains(x) || !(0.0..=1.0).contains(y) {
                return Err(FrameError::new(
                    ErrorCode::InvalidField,
                    "x and y are fractions of the viewport (0 to 1)",
                ));
            }
            Ok(())
        }
    }
}

/// A call's visitor list: 1 to 10 distinct IDs.
fn validate_ids(ids: &[String]) -> Result<(), FrameError> {
    if ids.is_empty() || ids.len() > MAX_ROOM_PARTICIPANTS - 1 {
        return Err(FrameError::new(
            ErrorCode::BadFrame,
            "visitor_ids: 1 to 10 visitors",
        ));
    }
    for id in ids {
        validate_id("visitor_ids", id)?;
    }
    Ok(())
}

/// What an agent may put in a message. `event` bodies are written by the hub only.
pub fn validate_body(body: &MessageBody) -> Result<(), FrameError> {
    match body {
        MessageBody::Text { text } => validate_text("text", text, MAX_MESSAGE_CHARS),
        MessageBody::Image { blob_id } => validate_blob_id(blob_id),
        MessageBody::Offer {
            title,
            text,
            image_url,
            link_url,
        } => {
            validate_text("title", title, 200)?;
            validate_length("text", text, 2000)?;
            validate_optional_url("image_url", image_url)?;
            validate_http_url("link_url", link_url)
        }
        MessageBody::Product {
            name,
            brand,
            price,
            image_url,
            url,
        } => {
            validate_text("name", name, 200)?;
            validate_length("brand", brand, 120)?;
            validate_length("price", price, 40)?;
            validate_optional_url("image_url", image_url)?;
            validate_http_url("url", url)
        }
        MessageBody::Event { .. } => Err(FrameError::new(
            ErrorCode::Forbidden,
            "event messages are written by the server",
        )),
    }
}

/// Blob IDs are 32 lowercase hex characters (what the blob store hands out).
pub fn validate_blob_id(blob_id: &str) -> Result<(), FrameError> {
    if blob_id.len() == 32
        && blob_id
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        Ok(())
    } else {
        Err(FrameError::new(
            ErrorCode::InvalidField,
            "blob_id must name an uploaded image (32 hex characters)",
        ))
    }
}

fn validate_optional_url(field: &str, url: &Option<String>) -> Result<(), FrameError> {
    match url {
        Some(url) if !url.is_empty() => validate_http_url(field, url),
        _ => Ok(()),
    }
}

/// Non-empty (after trimming) and at most `max` characters.
pub fn validate_text(field: &str, text: &str, max: usize) -> Result<(), FrameError> {
    if text.trim().is_empty() {
        return Err(FrameError::new(
            ErrorCode::InvalidField,
            format!("{field} must not be empty"),
        ));
    }
    validate_length(field, text, max)
}

pub fn validate_length(field: &str, text: &str, max: usize) -> Result<(), FrameError> {
    if text.chars().count() > max {
        return Err(FrameError::new(
            ErrorCode::InvalidField,
            format!("{field} longer than {max} characters"),
        ));
    }
    Ok(())
}

pub fn validate_contact(contact: &Contact) -> Result<(), FrameError> {
    if let Some(name) = &contact.name {
        validate_length("contact.name", name, MAX_NAME_CHARS)?;
    }
    if let Some(email) = &contact.email {
        validate_email(email)?;
    }
    Ok(())
}

/// A plausible e-mail address: something@something, no spaces, at most 254 characters.
pub fn validate_email(email: &str) -> Result<(), FrameError> {
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if ok || email.is_empty() {
        Ok(())
    } else {
        Err(FrameError::new(
            ErrorCode::InvalidField,
            "email is not an e-mail address",
        ))
    }
}

/// IDs go into store keys: short, and only characters that need no escaping anywhere.
pub fn validate_id(field: &str, id: &str) -> Result<(), FrameError> {
    validate_id_length(field, id, 8)
}

/// [`validate_id`] with another minimum length.
pub fn validate_id_length(field: &str, id: &str, min: usize) -> Result<(), FrameError> {
    let ok = (min..=MAX_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(FrameError::new(
            ErrorCode::InvalidField,
            format!("{field} must be {min}–{MAX_ID_CHARS} characters of A–Z, a–z, 0–9, '-' or '_'"),
        ))
    }
}

fn validate_page(page: &PageView) -> Result<(), FrameError> {
    validate_http_url("url", &page.url)?;
    if let Some(referrer) = &page.referrer {
        if !referrer.is_empty() {
            validate_http_url("referrer", referrer)?;
        }
    }
    if page.title.chars().count() > MAX_TITLE_CHARS {
        return Err(FrameError::new(
            ErrorCode::InvalidField,
            format!("title longer than {MAX_TITLE_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Only absolute http(s) URLs are ever stored, shown as links or navigated to.
pub fn validate_http_url(field: &str, url: &str) -> Result<(), FrameError> {
    if url.len() > MAX_URL_CHARS {
        return Err(FrameError::new(
            ErrorCode::InvalidField,
            format!("{field} longer than {MAX_URL_CHARS} characters"),
        ));
    }
    if !is_http_url(url) {
        return Err(FrameError::new(
            ErrorCode::InvalidField,
            format!("{field} must be an absolute http(s) URL"),
        ));
    }
    Ok(())
}

pub fn is_http_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return false;
    };
    !rest.is_empty()
        && !rest.starts_with('/')
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Serializes a server frame. Server frames contain only strings and numbers, so this
/// cannot fail.
pub fn encode<T: serde::Serialize>(frame: &T) -> String {
    serde_json::to_string(frame).expect("server frames always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hello_json() -> String {
        r#"{"type":"hello","v":1,"credential":{"visitor_id":"abcdefgh1234","signature":"c2lnbmF0dXJl"},"visit_id":"0000000001-abcdef","visit_age_ms":0,
           "page":{"seq":1,"url":"https://shop.example/","title":"Shop"}}"#
            .to_string()
    }

    #[test]
    fn decodes_a_valid_hello() {
        let frame = decode_visitor_frame(&hello_json()).unwrap();
        assert!(
            matches!(frame, VisitorFrame::Hello { credential: Some(ref c), .. } if c.visitor_id == "abcdefgh1234")
        );
    }

    #[test]
    fn malformed_json_is_bad_frame() {
        assert_eq!(
            decode_visitor_frame("{nope").unwrap_err().code,
            ErrorCode::BadFrame
        );
        assert_eq!(
            decode_visitor_frame("[1,2]").unwrap_err().code,
            ErrorCode::BadFrame
        );
        assert_eq!(
            decode_visitor_frame(r#"{"type":"page_view","seq":"x"}"#)
                .unwrap_err()
                .code,
            ErrorCode::BadFrame
        );
    }

    #[test]
    fn oversize_is_refused_before_parsing() {
        let big = format!(
            r#"{{"type":"ping","pad":"{}"}}"#,
            "x".repeat(MAX_FRAME_BYTES)
        );
        assert_eq!(
            decode_visitor_frame(&big).unwrap_err().code,
            ErrorCode::Oversize
        );
    }

    #[test]
    fn unknown_and_other_role_types() {
        assert_eq!(
            decode_visitor_frame(r#"{"type":"teleport"}"#)
                .unwrap_err()
                .code,
            ErrorCode::UnknownType
        );
        assert_eq!(
            decode_visitor_frame(r#"{"type":"set_availability","available":true}"#)
                .unwrap_err()
                .code,
            ErrorCode::Forbidden
        );
        assert_eq!(
            decode_agent_frame(r#"{"type":"hello","v":1}"#)
                .unwrap_err()
                .code,
            ErrorCode::Forbidden
        );
    }

    #[test]
    fn call_frames_are_known_types() {
        // A visitor trying an agent's call frame is forbidden, not "unknown".
        assert_eq!(
            decode_visitor_frame(r#"{"type":"call_start","visitor_ids":["abcdefgh"]}"#)
                .unwrap_err()
                .code,
            ErrorCode::Forbidden
        );
        // A malformed call frame is a bad frame of a known type.
        assert_eq!(
            decode_visitor_frame(r#"{"type":"call_answer","call_id":7}"#)
                .unwrap_err()
                .code,
            ErrorCode::BadFrame
        );
        assert_eq!(
            decode_agent_frame(r#"{"type":"call_answer","call_id":"c","accept":true}"#)
                .unwrap_err()
                .code,
            ErrorCode::Forbidden
        );
    }

    #[test]
    fn every_frame_type_name_is_a_real_tag() {
        use strum::IntoEnumIterator;
        // The type enums are derived from the frame enums; this checks that their serde
        // names agree, so the decoder can never call a real frame "unknown".
        for kind in VisitorFrameType::iter() {
            let name = serde_json::to_value(kind).unwrap();
            let err = serde_json::from_value::<VisitorFrame>(serde_json::json!({ "type": name }));
            if let Err(e) = err {
                assert!(!e.to_string().contains("unknown variant"), "{name}: {e}");
            }
        }
        for kind in AgentFrameType::iter() {
            let name = serde_json::to_value(kind).unwrap();
            let err = serde_json::from_value::<AgentFrame>(serde_json::json!({ "type": name }));
            if let Err(e) = err {
                assert!(!e.to_string().contains("unknown variant"), "{name}: {e}");
            }
        }
    }

    #[test]
    fn binary_and_text_messages_become_hub_inputs() {
        assert!(matches!(
            inbound(3, Side::Visitor, Payload::Binary),
            Input::Rejected { conn: 3, error } if error.code == ErrorCode::BadFrame
        ));
        assert!(matches!(
            inbound(3, Side::Agent, Payload::Text(r#"{"type":"ping"}"#)),
            Input::FromAgent {
                conn: 3,
                frame: AgentFrame::Ping {}
            }
        ));
        assert!(matches!(
            inbound(4, Side::Visitor, Payload::Text(&"x".repeat(MAX_FRAME_BYTES + 1))),
            Input::Rejected { conn: 4, error } if error.code == ErrorCode::Oversize
        ));
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert_eq!(
            decode_visitor_frame(r#"{"type":"ping","admin":true}"#)
                .unwrap_err()
                .code,
            ErrorCode::BadFrame
        );
    }

    #[test]
    fn wrong_version_and_bad_ids_and_urls() {
        let v2 = hello_json().replace(r#""v":1"#, r#""v":2"#);
        assert_eq!(
            decode_visitor_frame(&v2).unwrap_err().code,
            ErrorCode::UnsupportedVersion
        );
        let bad_id = hello_json().replace("abcdefgh1234", "a b<script>");
        assert_eq!(
            decode_visitor_frame(&bad_id).unwrap_err().code,
            ErrorCode::InvalidField
        );
        let js = hello_json().replace("https://shop.example/", "javascript:alert(1)");
        assert_eq!(
            decode_visitor_frame(&js).unwrap_err().code,
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn http_url_check() {
        assert!(is_http_url("https://a.example/x?y#z"));
        assert!(is_http_url("HTTP://a.example"));
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "https://",
            "https:///x",
            "//a.example",
            "https://a b",
            "ftp://a",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }

    fn arb_page() -> impl Strategy<Value = PageView> {
        (
            any::<u32>(),
            "[a-z]{1,20}",
            ".{0,50}",
            proptest::option::of("[a-z]{1,10}"),
            any::<u64>(),
        )
            .prop_map(|(seq, host, title, referrer, opened_ms_ago)| PageView {
                seq,
                url: format!("https://{host}.example/p"),
                title,
                referrer: referrer.map(|r| format!("http://{r}.example/")),
                opened_ms_ago,
            })
    }

    fn arb_visitor_frame() -> impl Strategy<Value = VisitorFrame> {
        prop_oneof![
            (
                "[a-zA-Z0-9_-]{8,64}",
                "[a-zA-Z0-9_-]{8,64}",
                any::<u64>(),
                arb_page()
            )
                .prop_map(|(visitor_id, visit_id, visit_age_ms, page)| {
                    VisitorFrame::Hello {
                        v: PROTOCOL_VERSION,
                        credential: Some(VisitorCredential {
                            visitor_id,
                            signature: "c2ln".into(),
                        }),
                        visit_id,
                        visit_age_ms,
                        page,
                        chat_after_seq: 0,
                        activity: Activity::Active,
                    }
                }),
            arb_page().prop_map(VisitorFrame::PageView),
            Just(VisitorFrame::Activity {
                state: Activity::Idle
            }),
            Just(VisitorFrame::Ping {}),
            Just(VisitorFrame::Leave {}),
        ]
    }

    proptest! {
        // The decoder is the only thing between the internet and the hub: it must never
        // panic, whatever it is given.
        #[test]
        fn decoder_never_panics_on_arbitrary_text(s in ".{0,300}") {
            let _ = decode_visitor_frame(&s);
            let _ = decode_agent_frame(&s);
        }

        #[test]
        fn decoder_never_panics_on_json_like_input(
            kind in prop_oneof![Just("hello".to_string()), Just("page_view".to_string()), Just("set_availability".to_string()), "[a-z_]{0,12}"],
            body in "[\\{\\}\\[\\]\":,a-z0-9 ]{0,120}"
        ) {
            let _ = decode_visitor_frame(&format!(r#"{{"type":"{kind}",{body}}}"#));
            let _ = decode_agent_frame(&format!(r#"{{"type":"{kind}",{body}}}"#));
        }

        #[test]
        fn valid_frames_roundtrip(frame in arb_visitor_frame()) {
            let text = serde_json::to_string(&frame).unwrap();
            prop_assert_eq!(decode_visitor_frame(&text).unwrap(), frame);
        }
    }
}
