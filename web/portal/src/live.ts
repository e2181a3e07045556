// The portal's connection to a site's hub: one WebSocket (shared/socket.ts), folding
// snapshots and changes into state — the live visitor list, the open conversations, their
// messages, typing previews, agents online and blocked visitors. Server timestamps are
// converted with the measured clock offset so durations tick correctly even if clocks
// disagree. Agent messages wait in an outbox (shared/outbox.ts) until the hub confirms
// them (B2); it survives a reload of the portal.
import { useEffect, useRef, useState } from 'preact/hooks';
import type {
  AgentRef,
  CallEnd,
  CallJoinInfo,
  CallSummary,
  AgentAvailability,
  AgentFrame,
  AgentServerFrame,
  ChatMessage,
  ConversationSummary,
  LiveVisitor,
  MessageBody,
  OnlineAgent,
  StreamKey,
} from '../../shared/protocol';
import { CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED } from '../../shared/protocol';
import { mergeMessages } from '../../shared/messages';
import { Outbox, stored } from '../../shared/outbox';
import { LiveSocket } from '../../shared/socket';
import { clientId } from '../../shared/text';
import { t } from './i18n';

export type Connection = 'connecting' | 'live' | 'reconnecting' | 'signed-out';

export interface Outgoing {
  conversation_id: string;
  client_id: string;
  body: MessageBody;
  /** Why the hub refused it (shown with the message until discarded). */
  refused?: string;
}

export interface LiveState {
  /** The agent's call (V1–V9), the join info for the media node, and call gating (V11). */
  call: CallSummary | null;
  callJoin: CallJoinInfo | null;
  callEnded: CallEnd | null;
  /** B3: the running call's WHIP/WHEP keys, once the agent asked for them. */
  streamKeys: { call_id: string; publish: StreamKey; watch: StreamKey } | null;
  calls: { available: boolean; enabled: boolean };
  visitors: Map<string, LiveVisitor>;
  availability: AgentAvailability | null;
  connection: Connection;
  /** server clock minus local clock, in ms */
  clockOffset: number;
  /** Open conversations this agent may see (pending, and their own active). */
  conversations: Map<string, ConversationSummary>;
  /** Conversations the hub said closed since this page connected (at most 100): the
   *  Closed folder shows them before the store's search can find them. */
  closed: Map<string, ConversationSummary>;
  /** Messages per conversation, in seq order. */
  messages: Map<string, ChatMessage[]>;
  /** Visitors' drafts per conversation (C4). */
  drafts: Map<string, string>;
  agents: OnlineAgent[];
  blocked: Set<string>;
  outbox: Outgoing[];
  /** What the hub refused, said where it belongs: by conversation ID, or under '' for
   *  the rest (calls, visitors). A conversation's clears when it changes. */
  errors: Map<string, string>;
  /** Conversations this agent saw that a colleague has now (taken or transferred), with
   *  who has them: the view says so instead of going on as if nothing happened. */
  gone: Map<string, AgentRef | null>;
}

export interface Notice {
  at: number;
  text: string;
  conversationId?: string;
}

const initial = (): LiveState => ({
  call: null,
  callJoin: null,
  callEnded: null,
  streamKeys: null,
  calls: { available: false, enabled: false },
  visitors: new Map(),
  availability: null,
  connection: 'connecting',
  clockOffset: 0,
  conversations: new Map(),
  closed: new Map(),
  messages: new Map(),
  drafts: new Map(),
  agents: [],
  blocked: new Set(),
  outbox: [],
  errors: new Map(),
  gone: new Map(),
});

/** Errors not about a conversation are kept under this key. */
export const GENERAL = '';

/** The live connection to one site's hub for the agent `agentId` (whose unsent messages
 *  are kept apart from any other agent signing in on the same browser). */
export function useHub(site: string | null, agentId: string, wantAvailable: boolean, onNotice: (n: Notice) => void) {
  const [state, setState] = useState<LiveState>(initial);
  const socket = useRef<LiveSocket | null>(null);
  const available = useRef(wantAvailable);
  available.current = wantAvailable;
  const outbox = useRef<Outbox<Outgoing> | null>(null);
  const notice = useRef(onNotice);
  notice.current = onNotice;
  // P8: each open mirror hears its visitor's frames directly (a stream, not state).
  const mirrors = useRef(new Map<string, (frame: CobrowseFrame) => void>());

  const send = (frame: AgentFrame): boolean => socket.current?.send(JSON.stringify(frame)) ?? false;

  useEffect(() => {
    if (!site) return;
    const box = new Outbox<Outgoing>(
      stored(`vitrine:portal:outbox:${agentId}:${site}`),
      (m) => send({ type: 'send_message', ...m }),
      () => setState((s) => ({ ...s, outbox: [...box.pending] })),
    );
    outbox.current = box;

    const apply = (frame: AgentServerFrame) => {
      if (frame.type === 'cobrowse' || frame.type === 'cobrowse_events') {
        mirrors.current.get(frame.visitor_id)?.(frame);
        return;
      }
      // The outbox first, outside the state updaters (which stay pure): its own change
      // callback updates `outbox` in the state.
      if (frame.type === 'snapshot') box.flush(); // the hub recognises resends by client_id
      else if (frame.type === 'message') box.confirm(frame.message.client_id);
      else if (frame.type === 'message_ack') box.confirm(frame.client_id);
      if (frame.type === 'error') box.failed(frame);
      // A message refused for good is said beside it, by the outbox, and nowhere else;
      // one held back for a while (rate limit) is also said in its conversation.
      const saidByOutbox = frame.type === 'error' && box.pending.some((o) => o.client_id === frame.client_id && o.refused);
      if (frame.type === 'conversation_changed') {
        const c = frame.conversation;
        setState((s) => {
          const before = s.conversations.get(c.conversation_id);
          if (!before && c.status === 'pending') notice.current({ at: Date.now(), text: t('notice.newChat'), conversationId: c.conversation_id });
          return s;
        });
      }
      if (frame.type === 'transferred_to_you')
        notice.current({ at: Date.now(), text: t('notice.transferred', { name: frame.from.name }), conversationId: frame.conversation_id });
      setState((s) => {
        switch (frame.type) {
          case 'snapshot':
            return {
              ...s,
              visitors: new Map(frame.visitors.map((v) => [v.visitor_id, v])),
              availability: frame.availability,
              connection: 'live',
              clockOffset: frame.server_now - Date.now(),
              conversations: new Map(frame.conversations.map((c) => [c.conversation_id, c])),
              agents: frame.agents,
              blocked: new Set(frame.blocked),
            };
          case 'visitors_changed': {
            const visitors = new Map(s.visitors);
            frame.upserts.forEach((v) => visitors.set(v.visitor_id, v));
            frame.removed.forEach((id) => visitors.delete(id));
            return { ...s, visitors, clockOffset: frame.server_now - Date.now() };
          }
          case 'availability':
            return { ...s, availability: frame };
          case 'conversation_changed': {
            const conversations = new Map(s.conversations);
            const c = frame.conversation;
            if (c.status !== 'closed') conversations.set(c.conversation_id, c);
            else conversations.delete(c.conversation_id);
            const closed = new Map(s.closed);
            closed.delete(c.conversation_id);
            if (c.status === 'closed') closed.set(c.conversation_id, c);
            if (closed.size > 100) closed.delete(closed.keys().next().value!);
            // It changed: an older refusal about it no longer holds; ours again if it was gone.
            const errors = new Map(s.errors);
            errors.delete(c.conversation_id);
            const gone = new Map(s.gone);
            gone.delete(c.conversation_id);
            return { ...s, conversations, closed, errors, gone };
          }
          case 'conversation_hidden': {
            // No longer ours to see (taken by, or transferred to, a colleague).
            const conversations = new Map(s.conversations);
            conversations.delete(frame.conversation_id);
            const messages = new Map(s.messages);
            messages.delete(frame.conversation_id);
            const drafts = new Map(s.drafts);
            drafts.delete(frame.conversation_id);
            const gone = new Map(s.gone);
            gone.set(frame.conversation_id, frame.owner);
            const closed = new Map(s.closed);
            closed.delete(frame.conversation_id);
            return { ...s, conversations, closed, messages, drafts, gone };
          }
          case 'message': {
            const m = frame.message;
            const messages = new Map(s.messages);
            messages.set(m.conversation_id, mergeMessages(messages.get(m.conversation_id), [m]));
            const drafts = new Map(s.drafts);
            if (m.author.kind === 'visitor') drafts.delete(m.conversation_id);
            return { ...s, messages, drafts };
          }
          case 'message_ack': {
            // One of ours went through: a "slow down" about this conversation is over.
            if (!s.errors.has(frame.conversation_id)) return s;
            const errors = new Map(s.errors);
            errors.delete(frame.conversation_id);
            return { ...s, errors };
          }
          case 'typing_preview': {
            const drafts = new Map(s.drafts);
            if (frame.draft) drafts.set(frame.conversation_id, frame.draft);
            else drafts.delete(frame.conversation_id);
            return { ...s, drafts };
          }
          case 'agents':
            return { ...s, agents: frame.agents };
          case 'blocked':
            return { ...s, blocked: new Set(frame.visitors) };
          case 'call_changed':
            return { ...s, call: frame.call, callEnded: null };
          case 'call_join':
            return { ...s, callJoin: frame.join, callEnded: null };
          case 'call_ended':
            return { ...s, call: null, callJoin: null, callEnded: frame.reason, streamKeys: null };
          case 'call_stream_keys':
            return { ...s, streamKeys: { call_id: frame.call_id, publish: frame.publish, watch: frame.watch } };
          case 'calls':
            return { ...s, calls: { available: frame.available, enabled: frame.enabled } };
          case 'missed_call':
            notice.current({ at: frame.at, text: t('notice.missedCall', { id: frame.visitor_id.slice(0, 8) }) });
            return s;
          case 'error': {
            if (saidByOutbox) return s;
            const errors = new Map(s.errors);
            // English keeps the hub's own words; other languages say what the code means.
            errors.set(frame.conversation_id ?? GENERAL, t(`error.${frame.code}`, { reason: sentence(frame.message) }));
            return { ...s, errors };
          }
          default:
            return s;
        }
      });
    };

    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const live = new LiveSocket(
      () => `${proto}://${location.host}/ws/agent?site=${encodeURIComponent(site)}&available=${available.current ? 1 : 0}`,
      JSON.stringify({ type: 'ping' } satisfies AgentFrame),
      {
        open: () => {},
        message: (data) => apply(JSON.parse(data) as AgentServerFrame),
        closed: (ev) => {
          if (ev.code === CLOSE_UNAUTHORIZED || ev.code === CLOSE_FORBIDDEN) {
            setState((s) => ({ ...s, connection: 'signed-out' }));
            return false;
          }
          setState((s) => ({ ...s, connection: 'reconnecting' }));
          return true;
        },
      },
    );
    socket.current = live;
    setState({ ...initial(), outbox: [...box.pending] });
    live.start();
    return () => live.stop();
  }, [site, agentId]);

  useEffect(() => void send({ type: 'set_availability', available: wantAvailable }), [wantAvailable]);

  return {
    state,
    send,
    /** Sends a message through the outbox (resent after reconnects until acknowledged). */
    say(conversationId: string, body: MessageBody) {
      outbox.current?.add({ conversation_id: conversationId, client_id: clientId(), body });
    },
    /** Drops a message the hub refused. */
    discard(clientId: string) {
      outbox.current?.discard(clientId);
    },
    /** Starts a proactive conversation (C2). Sent once: if the hub refuses it (the visitor
     *  left, or has a conversation already), the error says so. */
    start(visitorId: string, body: MessageBody) {
      send({ type: 'start_conversation', visitor_id: visitorId, client_id: clientId(), body });
    },
    /** Adds history fetched over HTTP. */
    addHistory(conversationId: string, history: ChatMessage[]) {
      setState((s) => {
        const messages = new Map(s.messages);
        messages.set(conversationId, mergeMessages(messages.get(conversationId), history));
        return { ...s, messages };
      });
    },
    /** P8: hears the co-browsing frames about `visitorId` until the returned function is called. */
    onCobrowse(visitorId: string, listener: (frame: CobrowseFrame) => void): () => void {
      mirrors.current.set(visitorId, listener);
      return () => {
        if (mirrors.current.get(visitorId) === listener) mirrors.current.delete(visitorId);
      };
    },
    /** Closes the "call ended" notice. */
    dismissCallEnded() {
      setState((s) => (s.callEnded === null ? s : { ...s, callEnded: null }));
    },
    /** Dismisses what was said about a conversation (or, by default, the rest). */
    clearError(key: string = GENERAL) {
      setState((s) => {
        if (!s.errors.has(key)) return s;
        const errors = new Map(s.errors);
        errors.delete(key);
        return { ...s, errors };
      });
    },
  };
}

export type Hub = ReturnType<typeof useHub>;

/** What the hub says about a viewed page (P8). */
export type CobrowseFrame = Extract<AgentServerFrame, { type: 'cobrowse' | 'cobrowse_events' }>;

/** The hub's reasons are lower-case clauses; shown alone they start a sentence. */
export function sentence(reason: string): string {
  const text = reason.charAt(0).toUpperCase() + reason.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** Re-renders every second so durations tick. */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(t);
  }, []);
  return now;
}
