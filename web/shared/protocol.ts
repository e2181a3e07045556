// Generated from the Rust types in core/ by `cargo xtask gen-types`. Do not edit.

export const PROTOCOL_VERSION = 1;
export const MAX_FRAME_BYTES = 16384;
export const MAX_MESSAGE_CHARS = 4000;
export const MAX_DRAFT_CHARS = 2000;
export const COBROWSE_REFRESH_MS = 20000;
export const CLOSE_UNKNOWN_SITE = 4404;
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;

export type VisitorFrame = { "type": "hello", v: number, 
/**
 * Who this browser is, as the hub told it before (`welcome`). Without it, or with
 * one that does not verify, the hub makes a new visitor: an ID alone proves nothing.
 */
credential: VisitorCredential | null, 
/**
 * Client-generated, time-sortable ID of the current visit (new after 30 min idle).
 */
visit_id: string, 
/**
 * How long ago (client clock) the visit started; the hub turns it into server time.
 */
visit_age_ms: number, page: PageView, activity: Activity, 
/**
 * The last chat message sequence number this widget has shown; the hub answers
 * with the open conversation and every message after it (B2).
 */
chat_after_seq: number, } | { "type": "page_view" } & PageView | { "type": "activity", state: Activity, } | { "type": "ping", } | { "type": "leave", } | { "type": "send_message", client_id: string, text: string, 
/**
 * The page the visitor wrote from (C5).
 */
page_url: string, 
/**
 * Name and e-mail from the "leave a message" form, both optional.
 */
contact: Contact | null, } | { "type": "typing", draft: string, } | { "type": "end_conversation", } | { "type": "call_request", cancel: boolean, } | { "type": "call_answer", call_id: string, accept: boolean, } | { "type": "call_hangup", call_id: string, } | { "type": "identify", identity: Identity, signature: string | null, } | { "type": "track", event: ShopEvent, } | { "type": "transcript", conversation_id: string, email: string, } | { "type": "cobrowse_consent", accept: boolean, } | { "type": "cobrowse_stop", } | { "type": "cobrowse_events", seq: number, chunk: string, last: boolean, };

export type VisitorCredential = { visitor_id: string, signature: string, };

export type PageView = { seq: number, url: string, title: string, referrer: string | null, 
/**
 * How long ago (client clock) the page was opened; 0 for a fresh view.
 */
opened_ms_ago: number, };

export type Activity = "active" | "idle";

export type VisitorServerFrame = { "type": "welcome", v: number, 
/**
 * Who this browser is for this site, from now on; the widget keeps it.
 */
credential: VisitorCredential, agents_available: boolean, 
/**
 * Whether a `conversation` frame follows (the visitor has an open conversation).
 */
has_conversation: boolean, 
/**
 * V11: whether the widget may offer calls at all.
 */
calls: boolean, 
/**
 * C9: this visitor is blocked here (no chat, no call requests).
 */
blocked: boolean, 
/**
 * B4: the language the site's admin chose for the widget; `null`: the browser's.
 */
language: Language | null, 
/**
 * C4: whether the widget sends drafts as the visitor types (and says so).
 */
typing_preview: boolean, } | { "type": "availability", agents_available: boolean, } | { "type": "pong" } | { "type": "error" } & ErrorFrame | { "type": "conversation", conversation: VisitorConversation, messages: Array<ChatMessage>, } | { "type": "message", message: ChatMessage, } | { "type": "message_ack", conversation_id: string, client_id: string, seq: number, } | { "type": "agent_typing", typing: boolean, } | { "type": "call_invite", call_id: string, agent_name: string, preview: CallJoinInfo, } | { "type": "call_join", call_id: string, join: CallJoinInfo, } | { "type": "call_closed", call_id: string, reason: CallEnd, } | { "type": "call_requested", pending: boolean, } | { "type": "call_busy", } | { "type": "blocked", blocked: boolean, } | { "type": "calls", enabled: boolean, } | { "type": "navigate", url: string, } | { "type": "interaction", allowed: boolean, } | { "type": "transcript_queued", email: string, confirm: boolean, } | { "type": "cobrowse_request", agent_name: string, } | { "type": "cobrowse_start", agent_name: string, } | { "type": "cobrowse_snapshot", } | { "type": "cobrowse_end", } | { "type": "cobrowse_point", x: number, y: number, agent_name: string, };

export type AgentFrame = { "type": "set_availability", available: boolean, } | { "type": "ping", } | { "type": "start_conversation", visitor_id: string, client_id: string, body: MessageBody, } | { "type": "take", conversation_id: string, } | { "type": "send_message", conversation_id: string, client_id: string, body: MessageBody, } | { "type": "typing", conversation_id: string, typing: boolean, } | { "type": "mark_read", conversation_id: string, seq: number, } | { "type": "transfer", conversation_id: string, to_agent_id: string, } | { "type": "end", conversation_id: string, } | { "type": "reopen", conversation_id: string, } | { "type": "block", visitor_id: string, blocked: boolean, } | { "type": "call_start", visitor_ids: Array<string>, } | { "type": "call_accept", visitor_id: string, } | { "type": "call_add", call_id: string, visitor_ids: Array<string>, } | { "type": "call_remove", call_id: string, visitor_id: string, } | { "type": "call_end", call_id: string, } | { "type": "call_stream_keys", call_id: string, } | { "type": "navigate", visitor_id: string, url: string, } | { "type": "set_interaction", call_id: string, allowed: boolean, } | { "type": "set_calls", enabled: boolean, } | { "type": "cobrowse_start", visitor_id: string, } | { "type": "cobrowse_stop", visitor_id: string, } | { "type": "cobrowse_point", visitor_id: string, x: number, y: number, };

export type AgentServerFrame = { "type": "snapshot", visitors: Array<LiveVisitor>, availability: AgentAvailability, 
/**
 * Open conversations of the site this agent may see (pending, and their own active).
 */
conversations: Array<ConversationSummary>, 
/**
 * Agents connected to this site now.
 */
agents: Array<OnlineAgent>, 
/**
 * Visitors blocked on this site (C9).
 */
blocked: Array<string>, server_now: number, } | { "type": "visitors_changed", upserts: Array<LiveVisitor>, removed: Array<string>, server_now: number, } | { "type": "availability" } & AgentAvailability | { "type": "pong" } | { "type": "error" } & ErrorFrame | { "type": "conversation_changed", conversation: ConversationSummary, } | { "type": "conversation_hidden", conversation_id: string, owner: AgentRef | null, } | { "type": "transferred_to_you", conversation_id: string, from: AgentRef, } | { "type": "message", message: ChatMessage, } | { "type": "message_ack", conversation_id: string, client_id: string, seq: number, } | { "type": "typing_preview", conversation_id: string, draft: string, } | { "type": "agents", agents: Array<OnlineAgent>, } | { "type": "blocked", visitors: Array<string>, } | { "type": "call_changed", call: CallSummary, } | { "type": "call_join", call_id: string, join: CallJoinInfo, } | { "type": "call_ended", call_id: string, reason: CallEnd, } | { "type": "call_stream_keys", call_id: string, publish: StreamKey, watch: StreamKey, } | { "type": "missed_call", visitor_id: string, at: number, } | { "type": "calls", available: boolean, enabled: boolean, } | { "type": "cobrowse", visitor_id: string, state: CobrowseState, } | { "type": "cobrowse_events", visitor_id: string, seq: number, chunk: string, last: boolean, };

export type AgentAvailability = { 
/**
 * This agent's own toggle.
 */
me: boolean, 
/**
 * Whether any agent of the site is available (what the widget sees).
 */
site: boolean, agents_online: number, };

export type LiveVisitor = { visitor_id: string, status: VisitorStatus, 
/**
 * When an offline visitor's last tab closed: their times on page and on site stop
 * there. `None` while they are online.
 */
left_at: number | null, visit_started_at: number, page: CurrentPage, location: Location, 
/**
 * Seen on an earlier visit (from the store).
 */
returning: boolean, 
/**
 * Visits so far including this one; 0 until the store has answered.
 */
visit_count: number, page_views_this_visit: number, 
/**
 * P4: in a call with an agent (filled by the call feature).
 */
in_call: boolean, 
/**
 * P7: asked for a call (filled by the call feature).
 */
call_requested: boolean, 
/**
 * P7: unread chat messages (filled by the chat feature).
 */
unread: number, 
/**
 * K1: who the shop says this visitor is; `None`: not identified (K5).
 */
contact: ContactRef | null, };

export type CurrentPage = { url: string, title: string, opened_at: number, };

export type VisitorStatus = "active" | "idle" | "offline";

export type Location = { country: string | null, city: string | null, };

export type ErrorFrame = { code: ErrorCode, message: string, 
/**
 * The message this error is about, when it is about one. The client stops resending
 * it, unless the code says to try again (`rate_limited`, `not_saved`).
 */
client_id: string | null, 
/**
 * The conversation the refused frame was about: the portal says it there, not
 * everywhere.
 */
conversation_id: string | null, };

export type ErrorCode = "bad_frame" | "oversize" | "unknown_type" | "forbidden" | "unsupported_version" | "hello_required" | "invalid_field" | "rate_limited" | "blocked" | "not_found" | "conflict" | "not_saved";

export type VisitorConversation = { conversation_id: string, status: ConversationStatus, 
/**
 * Display name of the agent handling it, once taken.
 */
agent_name: string | null, };

export type ConversationStatus = "pending" | "active" | "closed";

export type Contact = { name: string | null, email: string | null, };

export type AgentRef = { agent_id: string, name: string, };

export type ConversationSummary = { conversation_id: string, visitor_id: string, status: ConversationStatus, owner: AgentRef | null, contact: Contact, created_at: number, updated_at: number, 
/**
 * Start of the last message, for the folder list.
 */
preview: string, 
/**
 * Highest message sequence number so far.
 */
last_seq: number, 
/**
 * Visitor messages the agents have not read yet (P7's red dot).
 */
unread: number, 
/**
 * An agent started it (C2).
 */
proactive: boolean, };

export type ChatMessage = { conversation_id: string, seq: number, client_id: string, author: Author, body: MessageBody, 
/**
 * For visitor messages: the page they wrote from (C5).
 */
page_url: string | null, at: number, };

export type Author = { "kind": "visitor" } | { "kind": "agent", agent_id: string, name: string, } | { "kind": "system" };

export type MessageBody = { "kind": "text", text: string, } | { "kind": "image", blob_id: string, } | { "kind": "offer", title: string, text: string, image_url: string | null, link_url: string, } | { "kind": "product", name: string, brand: string, price: string, image_url: string | null, url: string, } | { "kind": "event", text: string, event?: ChatEvent, };

export type ChatEvent = { "type": "joined", name: string, } | { "type": "transferred", from: string, to: string, } | { "type": "ended", by: string | null, } | { "type": "reopened", name: string, } | { "type": "call_started", agent: string, } | { "type": "call_ended", seconds: number, };

export type OnlineAgent = { agent_id: string, name: string, expert: boolean, available: boolean, };

export type CallRole = "host" | "guest" | "preview" | "viewer";

export type CallJoinInfo = { 
/**
 * ws(s)://…/ws/call
 */
url: string, room: string, token: string, role: CallRole, 
/**
 * The relays to reach the node through (`RTCIceServer`s) when the network drops UDP;
 * empty without one. Their credentials expire by themselves (`crate::turn`).
 */
ice_servers: Array<IceServer>, };

export type IceServer = { urls: Array<string>, username?: string, credential?: string, };

export type StreamKey = { 
/**
 * https://…/whip/<room> or …/whep/<room>
 */
url: string, token: string, expires_at: number, };

export type CallEnd = "ended" | "cancelled" | "declined" | "left" | "removed" | "answered_elsewhere";

export type CallParticipantState = "invited" | "joined" | "declined" | "left" | "removed";

export type CallParticipant = { visitor_id: string, 
/**
 * The visitor's opaque ID in this call's room (what the media node and the other
 * participants know them by; never their visitor ID).
 */
participant: string, state: CallParticipantState, };

export type CallSummary = { call_id: string, agent_id: string, participants: Array<CallParticipant>, created_at: number, interaction_allowed: boolean, 
/**
 * The last URL the agent sent everyone to (V9 re-sync target).
 */
agent_url: string | null, };

export type TrackSource = "microphone" | "camera" | "screen";

export type CallPeer = { participant: string, name: string, role: CallRole, };

export type CallClientFrame = { "type": "join", room: string, token: string, } | { "type": "offer", sdp: string, sources: Record<string, TrackSource>, receive: Record<string, string>, } | { "type": "layer", track: string, rid: string, } | { "type": "remove", participant: string, } | { "type": "end", } | { "type": "leave", } | { "type": "ping", };

export type RemoteTrack = { 
/**
 * Stable id of the forwarded track (`participant/source`).
 */
id: string, participant: string, source: TrackSource, 
/**
 * `audio` or `video`.
 */
kind: string, };

export type CallServerFrame = { "type": "joined", participant: string, peers: Array<CallPeer>, } | { "type": "answer", sdp: string, } | { "type": "tracks", tracks: Array<RemoteTrack>, } | { "type": "peer_joined", peer: CallPeer, } | { "type": "peer_left", participant: string, } | { "type": "removed", } | { "type": "ended", reason: string, } | { "type": "error", code: MediaErrorCode, message: string, } | { "type": "pong", };

export type MediaErrorCode = "join_expected" | "bad_frame" | "token_malformed" | "token_forged" | "token_expired" | "token_wrong_room" | "token_revoked" | "call_ended" | "already_joined" | "room_full" | "draining" | "bad_sdp" | "connect_timeout" | "forbidden" | "not_found" | "rate_limited";

export type Offer = { offer_id: string, title: string, text: string, image_url: string | null, link_url: string, };

export type CannedResponse = { canned_id: string, 
/**
 * What the agent types after "/" to find it.
 */
shortcut: string, text: string, };

export type Product = { product_id: string, name: string, brand: string, category: string, 
/**
 * Display price with its currency, as the shop shows it ("49.00 €").
 */
price: string, image_url: string | null, url: string, };

export type VisitorDetails = { visitor_id: string, first_seen_at: number, visit_count: number, page_view_count: number, 
/**
 * Most recent first, at most [`VISITS_LIMIT`].
 */
visits: Array<Visit>, 
/**
 * Most recent first, at most [`HISTORY_LIMIT`].
 */
page_views: Array<VisitedPage>, };

export type Visit = { visit_id: string, started_at: number, country: string | null, city: string | null, referrer: string | null, landing_url: string, };

export type VisitedPage = { visit_id: string, seq: number, url: string, title: string, referrer: string | null, at: number, };

export type Site = { site_key: string, account_id: string, name: string, 
/**
 * A deactivated site's widget stays silent.
 */
active: boolean, 
/**
 * Origins (`https://shop.example`) whose pages may load the widget; empty = any.
 */
allowed_origins: Array<string>, 
/**
 * Agent IDs assigned to this site (admins need no assignment).
 */
consultants: Array<string>, 
/**
 * V11: calls offered to visitors (an agent's switch; the account's plan decides
 * whether calls exist at all).
 */
calls_enabled: boolean, 
/**
 * B4: the widget's language, forced by an admin; `None` follows the visitor's browser.
 */
language: Language | null, 
/**
 * C4: agents see what visitors type before they send it. Off, the hub drops drafts
 * and the widget stops sending them.
 */
typing_preview: boolean, 
/**
 * P8: agents view a visitor's page only after the visitor accepts (on by default).
 */
cobrowse_consent: boolean, };

export type Language = "en" | "fr" | "pl";

export type Role = "admin" | "agent" | "expert";

export type AgentProfile = { agent_id: string, email: string, account_id: string, name: string, role: Role, };

export type ErrorBody = { error: ErrorDetail, };

export type ErrorDetail = { 
/**
 * Machine-readable (`unauthorized`, `not_found`, `bad_request`, …).
 */
code: string, 
/**
 * For people.
 */
message: string, };

export type LoginRequest = { email: string, password: string, 
/**
 * Which account to sign in to, for a person who is an agent of several.
 */
account_id?: string, };

export type LoginAnswer = { "outcome": "signed_in", agent: AgentProfile, } | { "outcome": "choose_account", accounts: Array<AccountChoice>, };

export type AccountChoice = { account_id: string, name: string, role: Role, };

export type Me = { agent: AgentProfile, sites: Array<Site>, };

export type Session = { me: Me | null, };

export type ChangePassword = { current: string, new: string, };

export type ConversationQuery = { 
/**
 * One site (site key); all of the agent's sites when absent.
 */
site?: string, status?: ConversationStatus, 
/**
 * Contact name or e-mail, case-insensitive substring.
 */
q?: string, visitor?: string, limit?: number, };

export type FoundConversation = { site_key: string, site_name: string, conversation_id: string, visitor_id: string, status: ConversationStatus, owner: AgentRef | null, contact: Contact, created_at: number, updated_at: number, 
/**
 * Start of the last message, for the folder list.
 */
preview: string, 
/**
 * Highest message sequence number so far.
 */
last_seq: number, 
/**
 * Visitor messages the agents have not read yet (P7's red dot).
 */
unread: number, 
/**
 * An agent started it (C2).
 */
proactive: boolean, };

export type MessagesPage = { conversation: ConversationSummary, messages: Array<ChatMessage>, };

export type Uploaded = { blob_id: string, url: string, };

export type ProductQuery = { q: string, brand?: string, category?: string, };

export type Gallery = { products: Array<Product>, brands: Array<string>, categories: Array<string>, };

export type Imported = { imported: number, };

export type SiteInput = { name: string, active: boolean, allowed_origins: Array<string>, consultants: Array<string>, 
/**
 * B4: force the widget's language (absent or null: the visitor's browser decides).
 */
language: Language | null, 
/**
 * C4: agents see visitors' drafts as they type.
 */
typing_preview: boolean, 
/**
 * P8: agents view a visitor's page only after the visitor accepts.
 */
cobrowse_consent: boolean, };

export type InviteInput = { email: string, name: string, role: Role, };

export type Invited = { invitation: PendingInvitation, emailed: boolean, 
/**
 * The link's path on the portal's origin (`/portal/#invite=…`), only when the
 * platform cannot send e-mail.
 */
link_path: string | null, 
/**
 * Why the e-mail could not be sent (try again later, or revoke).
 */
email_error: string | null, };

export type PendingInvitation = { email: string, name: string, role: Role, invited_by: string, 
/**
 * Unix seconds.
 */
expires_at: number, };

export type LinkToken = { token: string, };

export type InvitationView = { account_name: string, email: string, name: string, role: Role, invited_by: string, 
/**
 * The address already signs in to Vitrine: accepting takes that password; otherwise
 * the invitee chooses one.
 */
has_sign_in: boolean, };

export type AcceptInvitation = { token: string, 
/**
 * The person's existing password, or the one they choose (≥ 10 characters).
 */
password: string, };

export type ForgotPassword = { email: string, };

export type ResetPassword = { token: string, password: string, };

export type TranscriptConfirmation = { site_name: string, email: string, };

export type AgentUpdate = { name: string, role: Role, };

export type Identity = { id: string, name: string | null, email: string | null, phone: string | null, address: string | null, };

export type ShopEvent = { event_id: string, kind: ShopEventKind, 
/**
 * In the shop's currency units (49.9 = 49.90 €).
 */
value: number, currency: string | null, 
/**
 * The products' page URLs (matched to the catalogue by URL).
 */
items: Array<string>, };

export type ShopEventKind = "cart" | "purchase";

export type ContactRef = { contact_id: string, name: string | null, email: string | null, };

export type CobrowseState = "waiting" | "viewing" | "refused" | "stopped" | "gone" | "degraded";

export type ContactProfile = { contact_id: string, name: string | null, email: string | null, phone: string | null, address: string | null, tags: Array<string>, 
/**
 * Identified with a valid signature (or by an agent), not merely claimed.
 */
verified: boolean, created_at: number, updated_at: number, };

export type ContactEdit = { name: string | null, email: string | null, phone: string | null, address: string | null, };

export type Note = { note_id: string, author: AgentRef, text: string, at: number, };

export type Task = { task_id: string, site: string, contact_id: string, 
/**
 * The contact's name when the task was made (the task list shows it).
 */
contact_name: string | null, title: string, assignee: AgentRef, 
/**
 * `YYYY-MM-DD`, the shop's calendar day.
 */
due: string | null, done: boolean, created_by: AgentRef, created_at: number, };

export type Score = { value: number, visits: number, page_views: number, last_seen_at: number | null, 
/**
 * The value of the last cart not followed by a purchase in its visit.
 */
cart_value: number, purchases: number, };

export type ViewedProduct = { product: Product, at: number, };

export type AbandonedCart = { value: number, currency: string | null, 
/**
 * The cart's products found in the catalogue, then any other URLs as they came.
 */
products: Array<Product>, at: number, };

export type ContactCard = { profile: ContactProfile, site: string, 
/**
 * The browsers identified as this contact, most recent first.
 */
visitors: Array<string>, notes: Array<Note>, tasks: Array<Task>, score: Score, recently_viewed: Array<ViewedProduct>, abandoned_cart: AbandonedCart | null, 
/**
 * K3: e-mails sent to the contact, most recent first.
 */
emails: Array<EmailRecord>, 
/**
 * K4: catalogue products shoppers viewed next after what this contact viewed
 * ([`crate::recommend`]), best first; never one they saw or have in the cart.
 */
recommended: Array<Product>, };

export type SiteIdentity = { 
/**
 * What the shop's backend signs its users' IDs with ([`crate::identity::sign`]).
 */
secret: string, 
/**
 * Refuse identities without a valid signature. Off, anyone can claim any customer's
 * card: only for shops that cannot sign yet.
 */
required: boolean, };

export type VisitorContact = { card: ContactCard | null, };

export type TagsInput = { tags: Array<string>, };

export type NoteInput = { text: string, };

export type TaskInput = { title: string, assignee_id: string, 
/**
 * `YYYY-MM-DD`.
 */
due: string | null, };

export type TaskUpdate = { done: boolean, };

export type IdentityInput = { required: boolean, rotate: boolean, };

export type SmtpSecurity = "none" | "start_tls" | "tls";

export type MailStatus = "queued" | "sent" | "failed";

export type EmailRecord = { mail_id: string, to: string, subject: string, status: MailStatus, queued_at: number, 
/**
 * When it was sent, or given up.
 */
done_at: number | null, 
/**
 * Why the last try failed (the SMTP server's words).
 */
error: string | null, };

export type MailSettingsView = { configured: boolean, host: string, port: number, security: SmtpSecurity, username: string | null, has_password: boolean, from: string, };

export type MailSettingsInput = { host: string, port: number, security: SmtpSecurity, username: string | null, password?: string, from: string, };

export type MailTestInput = { to: string, };

export type Scope = "contacts:read" | "contacts:write";

export type ApiKey = { key_id: string, account_id: string, name: string, scopes: Array<Scope>, created_at: number, 
/**
 * Who made it (an admin's name).
 */
created_by: string, };

export type ApiKeyInput = { name: string, scopes: Array<Scope>, };

export type NewApiKey = { key: ApiKey, token: string, };

export type ContactUpsert = { name: string | null, email: string | null, phone: string | null, address: string | null, tags: Array<string> | null, };

export type RowError = { row: number, message: string, };

export type ContactsImported = { imported: number, errors: Array<RowError>, };
