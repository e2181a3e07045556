// The visitor's side of chat: what the widget remembers between pages (the conversation,
// the messages shown, and its outbox — shared/outbox.ts), and how it talks to the hub.
// Nothing is lost (B2): `hello` asks for what was missed, the outbox resends what the hub
// has not confirmed.

import type { ChatMessage, Contact, ConversationStatus, ErrorCode, VisitorFrame, VisitorServerFrame } from '../../shared/protocol';
import { mergeMessages } from '../../shared/messages';
import { Outbox } from '../../shared/outbox';
import { clientId } from '../../shared/text';
import { t } from './i18n';
import { mountUi, type Ui } from './ui';

interface Outgoing {
  client_id: string;
  refused?: string;
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

/** Refusals that mean "this text cannot be sent as it is". */
const INVALID = new Set<ErrorCode>(['invalid_field', 'oversize', 'bad_frame']);

const KEEP_MESSAGES = 100;

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
  let typingPreview = true;
  // "End chat" pressed while disconnected: sent once the hub welcomes us back.
  let endWhenConnected = false;
  // K3: a transcript was asked for and the hub has not answered yet.
  let transcriptAsked = false;
  let transcriptNote = '';

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
      pending: [...outbox.pending],
      agentTyping,
      blocked,
      typingPreview,
      transcriptNote,
    });

  // Kept inside the chat's saved state, so it survives page loads with it.
  const outbox = new Outbox<Outgoing>(
    { load: () => state.outbox, save: (items) => { state.outbox = items; save(); } },
    (m) => send({ type: 'send_message', client_id: m.client_id, text: m.text, page_url: m.page_url, contact: m.contact }),
  );

  const addMessages = (messages: ChatMessage[]) => {
    const mine = messages.filter((m) => m.conversation_id === state.conversationId);
    for (const m of mine) {
      outbox.confirm(m.client_id);
      state.lastSeq = Math.max(state.lastSeq, m.seq);
      if (m.author.kind === 'agent') agentTyping = false;
    }
    state.messages = mergeMessages(state.messages, mine).slice(-KEEP_MESSAGES);
  };

  const handlers = {
    send(text: string, contact: Outgoing['contact']) {
      outbox.add({ client_id: clientId(), text, page_url: location.href, contact });
      send({ type: 'typing', draft: '' });
      render();
    },
    typing(draft: string) {
      // C4: a site that turned the preview off gets no drafts (the hub drops them too).
      if (typingPreview && (state.status === 'pending' || state.status === 'active')) send({ type: 'typing', draft });
    },
    end() {
      endWhenConnected = !send({ type: 'end_conversation' });
    },
    discard(clientId: string) {
      outbox.discard(clientId);
      render();
    },
    opened() {
      state.open = true;
      save();
    },
    transcript(email: string) {
      if (!state.conversationId) return;
      transcriptAsked = send({ type: 'transcript', conversation_id: state.conversationId, email });
      transcriptNote = transcriptAsked ? t('msg.sending') : t('transcript.failed', { reason: t('transcript.offline') });
      render();
    },
  };

  return {
    /** The sequence number to resume after, for `hello`. */
    cursor(): number {
      return state.conversationId && state.status !== 'closed' ? state.lastSeq : 0;
    },

    /** The hub welcomed us: show the UI, reconcile the conversation, resend the outbox. */
    welcome(agentsAvailable: boolean, hasConversation: boolean, isBlocked: boolean, preview: boolean) {
      available = agentsAvailable;
      blocked = isBlocked;
      typingPreview = preview;
      // Nothing a blocked visitor wrote is sent: it would stay "sending" forever.
      if (blocked) outbox.clear();
      if (!ui) {
        ui = mountUi(server, handlers);
        ui.markSeen(state.lastSeq);
        if (state.open && state.status !== 'closed' && state.status !== null) ui.open(true);
      }
      if (!hasConversation && state.status !== null && state.status !== 'closed') {
        state.status = 'closed'; // it ended while we were away
      }
      save();
      outbox.flush();
      if (endWhenConnected && state.status !== 'closed') send({ type: 'end_conversation' });
      endWhenConnected = false;
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
          outbox.confirm(frame.client_id);
          break;
        case 'agent_typing':
          agentTyping = frame.typing;
          break;
        case 'transcript_queued':
          transcriptAsked = false;
          transcriptNote = t(frame.confirm ? 'transcript.confirm' : 'transcript.queued', { email: frame.email });
          break;
        case 'blocked':
          blocked = frame.blocked;
          if (blocked) outbox.clear();
          break;
        case 'error':
          if (frame.code === 'blocked') {
            blocked = true;
            outbox.clear();
            break;
          }
          if (transcriptAsked && !frame.client_id) {
            transcriptAsked = false;
            transcriptNote = t('transcript.failed', { reason: frame.code === 'invalid_field' ? t('transcript.badAddress') : frame.message });
            break;
          }
          // Said in the visitor's language where the code says it all; else the hub's words.
          outbox.failed(INVALID.has(frame.code) ? { ...frame, message: t('refused.invalid') } : frame);
          if (!frame.client_id) return false; // not about a message: the widget logs it
          break;
        default:
          return false;
      }
      save();
      render();
      return true;
    },

    /** Redraws in the language just chosen. */
    localize() {
      ui?.localize();
    },
    hide() {
      ui?.hide();
    },

    /** This browser became another visitor: nothing of the old conversation is theirs. */
    forget() {
      state = empty();
      outbox.clear();
      save();
      render();
    },
  };
}
