//! Generates `web/shared/protocol.ts` from the Rust wire types (hub frames, media node
//! signaling, HTTP API), so the widget and the portal never restate them. `cargo xtask gen-types` writes the file; the test below
//! fails when the committed file is out of date.

use ts_rs::{Config, TS};

use crate::protocol::{self as p, http, media};
use crate::store::{accounts, agents, api_keys, browsing, catalog, contacts, mail};

/// Path of the generated file, relative to the workspace root.
pub const GENERATED_PATH: &str = "web/shared/protocol.ts";

/// The full text of the generated TypeScript module.
pub fn generate() -> String {
    // Timestamps are milliseconds since the epoch: well inside a JS number's exact range.
    let cfg = Config::new().with_large_int("number");
    let decls = [
        p::VisitorFrame::decl(&cfg),
        p::VisitorCredential::decl(&cfg),
        p::PageView::decl(&cfg),
        p::Activity::decl(&cfg),
        p::VisitorServerFrame::decl(&cfg),
        p::AgentFrame::decl(&cfg),
        p::AgentServerFrame::decl(&cfg),
        p::AgentAvailability::decl(&cfg),
        p::LiveVisitor::decl(&cfg),
        p::CurrentPage::decl(&cfg),
        p::VisitorStatus::decl(&cfg),
        p::Location::decl(&cfg),
        p::ErrorFrame::decl(&cfg),
        p::ErrorCode::decl(&cfg),
        p::VisitorConversation::decl(&cfg),
        p::ConversationStatus::decl(&cfg),
        p::Contact::decl(&cfg),
        p::AgentRef::decl(&cfg),
        p::ConversationSummary::decl(&cfg),
        p::ChatMessage::decl(&cfg),
        p::Author::decl(&cfg),
        p::MessageBody::decl(&cfg),
        p::ChatEvent::decl(&cfg),
        p::OnlineAgent::decl(&cfg),
        media::CallRole::decl(&cfg),
        p::CallJoinInfo::decl(&cfg),
        p::IceServer::decl(&cfg),
        p::StreamKey::decl(&cfg),
        p::CallEnd::decl(&cfg),
        p::CallParticipantState::decl(&cfg),
        p::CallParticipant::decl(&cfg),
        p::CallSummary::decl(&cfg),
        media::TrackSource::decl(&cfg),
        media::CallPeer::decl(&cfg),
        media::CallClientFrame::decl(&cfg),
        media::RemoteTrack::decl(&cfg),
        media::CallServerFrame::decl(&cfg),
        media::MediaErrorCode::decl(&cfg),
        catalog::Offer::decl(&cfg),
        catalog::CannedResponse::decl(&cfg),
        catalog::Product::decl(&cfg),
        browsing::VisitorDetails::decl(&cfg),
        browsing::Visit::decl(&cfg),
        browsing::VisitedPage::decl(&cfg),
        accounts::Site::decl(&cfg),
        accounts::Language::decl(&cfg),
        agents::Role::decl(&cfg),
        agents::AgentProfile::decl(&cfg),
        http::ErrorBody::decl(&cfg),
        http::ErrorDetail::decl(&cfg),
        http::LoginRequest::decl(&cfg),
        http::LoginAnswer::decl(&cfg),
        http::AccountChoice::decl(&cfg),
        http::Me::decl(&cfg),
        http::Session::decl(&cfg),
        http::ChangePassword::decl(&cfg),
        http::ConversationQuery::decl(&cfg),
        http::FoundConversation::decl(&cfg),
        http::MessagesPage::decl(&cfg),
        http::Uploaded::decl(&cfg),
        http::ProductQuery::decl(&cfg),
        http::Gallery::decl(&cfg),
        http::Imported::decl(&cfg),
        http::SiteInput::decl(&cfg),
        http::InviteInput::decl(&cfg),
        http::Invited::decl(&cfg),
        http::PendingInvitation::decl(&cfg),
        http::LinkToken::decl(&cfg),
        http::InvitationView::decl(&cfg),
        http::AcceptInvitation::decl(&cfg),
        http::ForgotPassword::decl(&cfg),
        http::ResetPassword::decl(&cfg),
        http::TranscriptConfirmation::decl(&cfg),
        http::AgentUpdate::decl(&cfg),
        p::Identity::decl(&cfg),
        p::ShopEvent::decl(&cfg),
        p::ShopEventKind::decl(&cfg),
        p::ContactRef::decl(&cfg),
        p::CobrowseState::decl(&cfg),
        contacts::ContactProfile::decl(&cfg),
        contacts::ContactEdit::decl(&cfg),
        contacts::Note::decl(&cfg),
        contacts::Task::decl(&cfg),
        contacts::Score::decl(&cfg),
        contacts::ViewedProduct::decl(&cfg),
        contacts::AbandonedCart::decl(&cfg),
        contacts::ContactCard::decl(&cfg),
        accounts::SiteIdentity::decl(&cfg),
        http::VisitorContact::decl(&cfg),
        http::TagsInput::decl(&cfg),
        http::NoteInput::decl(&cfg),
        http::TaskInput::decl(&cfg),
        http::TaskUpdate::decl(&cfg),
        http::IdentityInput::decl(&cfg),
        mail::SmtpSecurity::decl(&cfg),
        mail::MailStatus::decl(&cfg),
        mail::EmailRecord::decl(&cfg),
        http::MailSettingsView::decl(&cfg),
        http::MailSettingsInput::decl(&cfg),
        http::MailTestInput::decl(&cfg),
        api_keys::Scope::decl(&cfg),
        api_keys::ApiKey::decl(&cfg),
        http::ApiKeyInput::decl(&cfg),
        http::NewApiKey::decl(&cfg),
        http::ContactUpsert::decl(&cfg),
        http::RowError::decl(&cfg),
        http::ContactsImported::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from the Rust types in core/ by `cargo xtask gen-types`. Do not edit.\n\n",
    );
    out.push_str(&format!(
        "export const PROTOCOL_VERSION = {};\n",
        p::PROTOCOL_VERSION
    ));
    out.push_str(&format!(
        "export const MAX_FRAME_BYTES = {};\n",
        p::MAX_FRAME_BYTES
    ));
    out.push_str(&format!(
        "export const MAX_MESSAGE_CHARS = {};\nexport const MAX_DRAFT_CHARS = {};\n",
        p::MAX_MESSAGE_CHARS,
        p::MAX_DRAFT_CHARS
    ));
    out.push_str(&format!(
        "export const COBROWSE_REFRESH_MS = {};\n",
        p::COBROWSE_REFRESH_MS
    ));
    out.push_str(&format!(
        "export const CLOSE_UNKNOWN_SITE = {};\nexport const CLOSE_UNAUTHORIZED = {};\nexport const CLOSE_FORBIDDEN = {};\n\n",
        p::close_code::UNKNOWN_SITE,
        p::close_code::UNAUTHORIZED,
        p::close_code::FORBIDDEN
    ));
    for decl in decls {
        out.push_str("export ");
        out.push_str(decl.trim());
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_typescript_is_up_to_date() {
        // At run time: a test binary reused from a target dir shared between clones
        // keeps the compile-time path of the clone that built it.
        let manifest_dir = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
        let path = std::path::Path::new(&manifest_dir)
            .join("..")
            .join(super::GENERATED_PATH);
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        assert!(
            committed == super::generate(),
            "{} is out of date: run `cargo xtask gen-types` and commit it",
            super::GENERATED_PATH
        );
    }
}
