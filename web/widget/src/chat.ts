// The visitor's side of chat: what the widget remembers between pages (the conversation,
// the messages shown, and an outbox of messages not yet acknowledged), and how it talks
// to the hub. Nothing is lost (B2): a message leaves the outbox only when the hub says it
// is stored; after a reconnect, a restart or a new page the outbox is resent (same
// client_id, so the hub never stores it twice) and `hello` asks for what was missed.

import type { ChatMessage, Contact, ConversationStatus, VisitorFrame, VisitorServerFrame } from '../../shared/protocol';
import { clientId } from '../../shared/text';
import { mountUi, type Ui } from './ui';

interface Outgoing {
  client_id: string;
  text: string;
  page_url: string;
  contact: Contact | null;
}

interface SavedChat {
  conversationId: string | null;
  status: ConversationStatus | null;
  agentName: string | null;
  lastSeq: number;
  messages: ChatMessage[];
  outbox: Outgoing[];
  open: boolean;
}

const KEEP_MESSAGES = 100;
const RESEND_AFTER_MS = 3000;

export function createChat(site: string, server: string, send: (frame: VisitorFrame) => boolean) {
  const key = `vitrine:${site}:chat`;
  const empty = (): SavedChat => ({ conversationId: null, status: null, agentName: null, lastSeq: 0, messages: [], outbox: [], open: false });
  let state: SavedChat = empty();
  try {
    state = { ...empty(), ...JSON.parse(localStorage.getItem(key) || '{}') };
  } catch {
    /* storage blocked or corrupt: start empty */
  }
  let ui: Ui | null = null;
  let available = false;
  let agentTyping = false;
  let blocked = false;
  let resendTimer: number | undefined;

  const save = () => {
    try {
      localStorage.setItem(key, JSON.stringify(state));
    } catch {
      /* memory only */
    }
  };

  const render = () =>
    ui?.update({
      available,
      status: state.status,
      agentName: state.agentName,
      messages: state.messages,
      pending: state.outbox,
      agentTyping,
      blocked,
    });

  const flushOutbox = () => {
    for (const m of state.outbox) {
      send({ type: 'send_message', client_id: m.client_id, text: m.text, page_url: m.page_url, contact: m.contact });
    }
  };

  // Unacknowledged messages are resent until the hub confirms them.
  const scheduleResend = () => {
    if (resendTimer !== undefined || state.outbox.length === 0) return;
    resendTimer = window.setTimeout(() => {
      resendTimer = undefined;
      flushOutbox();
      scheduleResend();
    }, RESEND_AFTER_MS);
  };

  const addMessages = (messages: ChatMessage[]) => {
    for (const m of messages) {
      if (m.conversation_id !== state.conversationId) continue;
      if (state.messages.some((x) => x.seq === m.seq)) continue; // already shown
      state.messages.push(m);
      state.outbox = state.outbox.filter((o) => o.client_id !== m.client_id);
      state.lastSeq = Math.max(state.lastSeq, m.seq);
      if (m.author.kind === 'agent') agentTyping = false;
    }
    state.messages.sort((a, b) => a.seq - b.seq);
    state.messages = state.messages.slice(-KEEP_MESSAGES);
  };

  const handlers = {
    send(text: string, contact: Outgoing['contact']) {
      const m: Outgoing = { client_id: clientId(), text, page_url: location.href, contact };
      state.outbox.push(m);
      save();
      send({ type: 'send_message', client_id: m.client_id, text: m.text, page_url: m.page_url, contact: m.contact });
      send({ type: 'typing', draft: '' });
      scheduleResend();
      render();
    },
    typing(draft: string) {
      if (state.status === 'pending' || state.status === 'active') send({ type: 'typing', draft });
    },
    end() {
      send({ type: 'end_conversation' });
    },
    opened() {
      state.open = true;
      save();
    },
  };

  return {
    /** The sequence number to resume after, for `hello`. */
    cursor(): number {
      return state.conversationId && state.status !== 'closed' ? state.lastSeq : 0;
    },

    /** The hub welcomed us: show the UI, reconcile the conversation, resend the outbox. */
    welcome(agentsAvailable: boolean, hasConversation: boolean) {
      available = agentsAvailable;
      if (!ui) {
        ui = mountUi(server, handlers);
        ui.markSeen(state.lastSeq);
        if (state.open && state.status !== 'closed' && state.status !== null) ui.open(true);
      }
      if (!hasConversation && state.status !== null && state.status !== 'closed') {
        state.status = 'closed'; // it ended while we were away
      }
      save();
      flushOutbox();
      scheduleResend();
      render();
    },

    setAvailable(agentsAvailable: boolean) {
      available = agentsAvailable;
      render();
    },

    /** Handles a chat frame; returns false for frames that are not about chat. */
    onFrame(frame: VisitorServerFrame): boolean {
      switch (frame.type) {
        case 'conversation': {
          const c = frame.conversation;
          if (c.conversation_id !== state.conversationId) {
            state = { ...state, conversationId: c.conversation_id, messages: [], lastSeq: 0 };
          }
          state.status = c.status;
          state.agentName = c.agent_name;
          if (c.status !== 'active') agentTyping = false;
          addMessages(frame.messages);
          break;
        }
        case 'message':
          addMessages([frame.message]);
          break;
        case 'message_ack':
          state.outbox = state.outbox.filter((o) => o.client_id !== frame.client_id);
          break;
        case 'agent_typing':
          agentTyping = frame.typing;
          break;
        case 'error':
          if (frame.code === 'blocked') {
            blocked = true;
            state.outbox = [];
          } else if (frame.code === 'rate_limited' || frame.code === 'not_saved') {
            scheduleResend();
          }
          return frame.code === 'blocked';
        default:
          return false;
      }
      save();
      render();
      return true;
    },

    hide() {
      ui?.hide();
    },
  };
}
