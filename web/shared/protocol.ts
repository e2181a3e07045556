// Generated from the Rust types in core/ by `cargo xtask gen-types`. Do not edit.

export const PROTOCOL_VERSION = 1;
export const MAX_FRAME_BYTES = 16384;
export const CLOSE_UNKNOWN_SITE = 4404;
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;

export type VisitorFrame = { "type": "hello", v: number, 
/**
 * Stable first-party ID of this browser for this site.
 */
visitor_id: string, 
/**
 * Client-generated, time-sortable ID of the current visit (new after 30 min idle).
 */
visit_id: string, 
/**
 * How long ago (client clock) the visit started; the hub turns it into server time.
 */
visit_age_ms: number, page: PageView, activity: Activity, } | { "type": "page_view" } & PageView | { "type": "activity", state: Activity, } | { "type": "ping", } | { "type": "leave", };

export type PageView = { seq: number, url: string, title: string, referrer: string | null, 
/**
 * How long ago (client clock) the page was opened; 0 for a fresh view.
 */
opened_ms_ago: number, };

export type Activity = "active" | "idle";

export type VisitorServerFrame = { "type": "welcome", v: number, agents_available: boolean, } | { "type": "availability", agents_available: boolean, } | { "type": "pong" } | { "type": "error" } & ErrorFrame;

export type AgentFrame = { "type": "set_availability", available: boolean, } | { "type": "ping", };

export type AgentServerFrame = { "type": "snapshot", visitors: Array<LiveVisitor>, availability: AgentAvailability, server_now: number, } | { "type": "visitors_changed", upserts: Array<LiveVisitor>, removed: Array<string>, server_now: number, } | { "type": "availability" } & AgentAvailability | { "type": "pong" } | { "type": "error" } & ErrorFrame;

export type AgentAvailability = { 
/**
 * This agent's own toggle.
 */
me: boolean, 
/**
 * Whether any agent of the site is available (what the widget sees).
 */
site: boolean, agents_online: number, };

export type LiveVisitor = { visitor_id: string, status: VisitorStatus, visit_started_at: number, page: CurrentPage, location: Location, 
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
unread: number, };

export type CurrentPage = { url: string, title: string, opened_at: number, };

export type VisitorStatus = "active" | "idle" | "offline";

export type Location = { country: string | null, city: string | null, };

export type ErrorFrame = { code: ErrorCode, message: string, };

export type ErrorCode = "bad_frame" | "oversize" | "unknown_type" | "forbidden" | "unsupported_version" | "hello_required" | "invalid_field" | "rate_limited";

export type VisitorDetails = { visitor_id: string, first_seen_at: number, visit_count: number, page_view_count: number, 
/**
 * Most recent first.
 */
visits: Array<VisitSummary>, 
/**
 * Most recent first, at most [`HISTORY_LIMIT`].
 */
page_views: Array<PageViewEntry>, };

export type VisitSummary = { visit_id: string, started_at: number, country: string | null, city: string | null, referrer: string | null, landing_url: string, };

export type PageViewEntry = { visit_id: string, seq: number, url: string, title: string, at: number, };

export type Site = { site_key: string, account_id: string, name: string, active: boolean, };

export type Role = "admin" | "agent" | "expert";

export type AgentProfile = { agent_id: string, email: string, account_id: string, name: string, role: Role, };
