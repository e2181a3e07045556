// The widget's visible part, in a shadow root so the host page's CSS cannot reach it and
// ours cannot leak out: a launcher button, a toast for proactive messages, and the chat
// panel (messages, typing indicator, composer; name and e-mail when leaving a message).
// Everything from the network is rendered with textContent and http(s)-only links.

import type { ChatMessage, Contact, ConversationStatus } from '../../shared/protocol';
import { safeHref, splitLinks } from '../../shared/text';
import { chatEvent } from '../../shared/i18n';
import { language, t } from './i18n';

export interface UiHandlers {
  send(text: string, contact: Contact | null): void;
  typing(draft: string): void;
  end(): void;
  opened(): void;
  /** Drop a message the hub refused. */
  discard(clientId: string): void;
  /** K3: e-mail me this conversation. */
  transcript(email: string): void;
}

export interface Pending {
  client_id: string;
  text: string;
  /** Why the hub refused it; absent while it is being sent. */
  refused?: string;
}

export interface View {
  available: boolean;
  status: ConversationStatus | null;
  agentName: string | null;
  messages: ChatMessage[];
  pending: Pending[];
  agentTyping: boolean;
  blocked: boolean;
  /** C4: the advisor sees drafts as they are typed (the intro says so). */
  typingPreview: boolean;
  /** K3: what became of the transcript asked for ('' before any). */
  transcriptNote: string;
}

const STYLE = `
:host { all: initial; }
* { box-sizing: border-box; }
.launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; display: flex; align-items: center; gap: 8px;
  font: 600 15px/1 system-ui, sans-serif; color: #fff; background: #4338ca; border: 0; border-radius: 999px;
  padding: 12px 18px; box-shadow: 0 6px 20px rgba(0,0,0,.25); cursor: pointer; }
.launcher.offline { background: #475569; }
button:focus-visible, textarea:focus-visible, input:focus-visible { outline: 3px solid #facc15; outline-offset: 2px; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; margin: 0; }
.dot { width: 9px; height: 9px; border-radius: 50%; background: #22c55e; }
.offline .dot { background: #cbd5e1; }
.badge { background: #dc2626; border-radius: 999px; padding: 2px 7px; font-size: 12px; }
.panel, .toast { position: fixed; right: 20px; bottom: 76px; z-index: 2147483000; width: 340px; max-width: calc(100vw - 40px);
  background: #fff; color: #0f172a; font: 14px/1.45 system-ui, sans-serif; border-radius: 12px; box-shadow: 0 10px 30px rgba(0,0,0,.25); }
.panel { display: flex; flex-direction: column; height: 460px; max-height: calc(100vh - 100px); overflow: hidden; }
.toast { padding: 12px 14px; cursor: pointer; }
.head { display: flex; align-items: center; gap: 8px; padding: 12px 14px; background: #4338ca; color: #fff; }
.head h2 { flex: 1; margin: 0; font-size: 15px; }
.head button { background: none; border: 0; color: #fff; cursor: pointer; font: inherit; }
.log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; }
.intro, .note { color: #475569; font-size: 13px; margin: 0; }
.msg { max-width: 85%; padding: 8px 11px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.msg.visitor { align-self: flex-end; background: #4338ca; color: #fff; }
.msg.visitor a { color: #fff; }
.msg.agent { align-self: flex-start; background: #f1f5f9; }
.msg.system { align-self: center; background: none; color: #64748b; font-size: 12px; padding: 0; }
.msg.sending { background: #5b54e0; }
.msg.refused { background: #fff; color: #0f172a; border: 1px dashed #dc2626; }
.why { display: block; font-size: 11px; color: #b91c1c; }
.why button { background: none; border: 0; padding: 0; color: inherit; font: inherit; text-decoration: underline; cursor: pointer; }
.who { display: block; font-size: 11px; color: #64748b; margin-bottom: 2px; }
.card { border: 1px solid #e2e8f0; border-radius: 10px; overflow: hidden; background: #fff; }
.card img, .msg img { display: block; max-width: 100%; max-height: 180px; border-radius: 8px; }
.card .body { padding: 8px 10px; }
.card b { display: block; }
.typing { color: #64748b; font-size: 12px; font-style: italic; padding: 0 12px 6px; }
form { display: flex; flex-direction: column; gap: 6px; padding: 10px; border-top: 1px solid #e2e8f0; }
.row { display: flex; gap: 6px; }
.contact { flex-wrap: wrap; }
.contact input { flex: 1 1 130px; }
.note.left { color: #166534; }
input, textarea { flex: 1; min-width: 0; font: inherit; padding: 7px 9px; border: 1px solid #cbd5e1; border-radius: 8px; color: inherit; background: #fff; }
textarea { resize: none; height: 40px; }
.send, .trs { background: #4338ca; color: #fff; border: 0; border-radius: 8px; padding: 0 14px; font: 600 14px system-ui, sans-serif; cursor: pointer; }
.tr { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; padding: 0 12px 6px; font-size: 12px; color: #475569; }
.trb { background: none; border: 0; padding: 0; color: #4338ca; text-decoration: underline; cursor: pointer; font: inherit; }
.tr .trs { padding: 6px 10px; }
[hidden] { display: none !important; }
`;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function link(href: string | undefined, text: string): HTMLElement {
  if (!href) return el('span', '', text);
  const a = el('a', '', text);
  a.href = href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  return a;
}

function image(src: string | undefined, alt: string): HTMLElement | null {
  if (!src) return null;
  const img = el('img');
  img.src = src;
  img.alt = alt;
  img.referrerPolicy = 'no-referrer';
  return img;
}

function card(title: string, lines: string[], img: string | null, href: string, action: string): HTMLElement {
  const box = el('div', 'card');
  const pic = image(safeHref(img), title);
  if (pic) box.append(pic);
  const body = el('div', 'body');
  body.append(el('b', '', title));
  lines.filter(Boolean).forEach((l) => body.append(el('div', '', l)));
  body.append(link(safeHref(href), action));
  box.append(body);
  return box;
}

export function renderBody(m: ChatMessage, server: string): HTMLElement {
  const b = m.body;
  switch (b.kind) {
    case 'event':
      return el('span', '', b.event ? chatEvent(b.event, t) : b.text);
    case 'text': {
      const span = el('span');
      splitLinks(b.text).forEach((s) => span.append(s.href ? link(s.href, s.text) : document.createTextNode(s.text)));
      return span;
    }
    case 'image':
      return image(`${server}/blobs/${encodeURIComponent(b.blob_id)}`, t('msg.image')) ?? el('span');
    case 'offer':
      return card(b.title, [b.text], b.image_url, b.link_url, t('msg.seeOffer'));
    case 'product':
      return card(b.name, [b.brand, b.price], b.image_url, b.url, t('msg.viewProduct'));
  }
}

export function mountUi(server: string, handlers: UiHandlers) {
  const host = document.createElement('div');
  host.setAttribute('data-vitrine-widget', '');
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = `<style>${STYLE}</style>
<div class="toast" role="status" hidden></div>
<section class="panel" role="dialog" hidden>
  <div class="head"><h2></h2><button type="button" class="end" hidden></button><button type="button" class="min">▾</button></div>
  <div class="log"></div>
  <p class="sr" role="status"></p>
  <div class="typing" hidden></div>
  <div class="tr" hidden><button type="button" class="trb"></button><span class="row trf" hidden><input name="to" type="email" maxlength="254" autocomplete="email"><button type="button" class="trs"></button></span><span class="trn" role="status"></span></div>
  <form>
    <div class="row contact"><input name="name" maxlength="120" autocomplete="name"><input name="email" type="email" maxlength="254" autocomplete="email"></div>
    <div class="row"><textarea name="text" maxlength="4000"></textarea><button class="send" type="submit"></button></div>
  </form>
</section>
<button class="launcher" type="button" aria-expanded="false"><span class="dot" aria-hidden="true"></span><span class="label"></span><span class="badge" hidden></span></button>`;
  const $ = <T extends Element>(sel: string) => root.querySelector(sel) as T;
  const button = $<HTMLButtonElement>('.launcher');
  const panel = $<HTMLElement>('.panel');
  const toast = $<HTMLElement>('.toast');
  const log = $<HTMLElement>('.log');
  const form = $<HTMLFormElement>('form');
  const textarea = $<HTMLTextAreaElement>('textarea');
  const contactRow = $<HTMLElement>('.contact');
  const badge = $<HTMLElement>('.badge');
  let view: View = { available: false, status: null, agentName: null, messages: [], pending: [], agentTyping: false, blocked: false, typingPreview: true, transcriptNote: '' };
  const tr = $<HTMLElement>('.tr');
  const trForm = $<HTMLElement>('.trf');
  const trTo = $<HTMLInputElement>('[name=to]');
  // The fixed words, in the current language (again after it changes).
  const localize = () => {
    panel.setAttribute('aria-label', t('panel.label'));
    $<HTMLElement>('.end').textContent = t('panel.end');
    $<HTMLElement>('.min').setAttribute('aria-label', t('panel.minimise'));
    for (const [sel, key] of [['[name=name]', 'form.name'], ['[name=email]', 'form.email'], ['textarea', 'form.message']] as const) {
      $<HTMLElement>(sel).setAttribute('aria-label', t(key));
      $<HTMLElement>(sel).setAttribute('placeholder', t(key === 'form.message' ? 'form.placeholder' : key));
    }
    $<HTMLElement>('.send').textContent = t('form.send');
    $<HTMLElement>('.trb').textContent = t('transcript.ask');
    trTo.setAttribute('aria-label', t('form.email'));
    trTo.placeholder = t('form.email');
    $<HTMLElement>('.trs').textContent = t('transcript.send');
    // Screen readers pronounce the widget in its own language, whatever the page's.
    host.setAttribute('lang', language());
  };
  let unread = 0;
  let seenSeq = 0;
  // What the advisor says is read out as it arrives (the log itself is redrawn whole, so
  // it is not a live region); history shown on load is not.
  const said = $<HTMLElement>('.sr');
  let saidSeq = -1;

  const open = (show: boolean) => {
    panel.hidden = !show;
    toast.hidden = true;
    button.setAttribute('aria-expanded', String(show));
    if (show) {
      unread = 0;
      handlers.opened();
      render();
      textarea.focus();
    }
  };

  const render = () => {
    const { available, status, agentName, blocked } = view;
    const chatting = status === 'pending' || status === 'active';
    // A message left while nobody was available: it waits, and the visitor is told so
    // (not shown an invitation to chat that nobody would answer).
    const left = status === 'pending' && !available;
    button.classList.toggle('offline', !available && status !== 'active');
    button.setAttribute('data-state', available ? 'available' : 'away');
    $<HTMLElement>('.label').textContent = t(left ? 'launcher.messageSent' : chatting ? 'launcher.chat' : available ? 'launcher.chatWithUs' : 'launcher.leaveMessage');
    badge.hidden = unread === 0 || !panel.hidden;
    badge.textContent = String(unread);
    badge.setAttribute('aria-label', t('launcher.unread', { count: unread }));
    $<HTMLElement>('h2').textContent =
      status === 'active' && agentName ? agentName : t(left ? 'head.messageReceived' : available || chatting ? 'head.chatWithUs' : 'head.leaveMessage');
    $<HTMLElement>('.end').hidden = !chatting;
    contactRow.hidden = chatting || available;
    const typing = $<HTMLElement>('.typing');
    typing.hidden = !view.agentTyping;
    typing.textContent = agentName ? t('typing.named', { name: agentName }) : t('typing.advisor');
    textarea.disabled = blocked;
    tr.hidden = view.messages.length === 0;
    $<HTMLElement>('.trn').textContent = view.transcriptNote;
    log.replaceChildren();
    if (view.messages.length === 0 && view.pending.length === 0) {
      // C4, said plainly: what the advisor sees, drafts included unless the site turned it off.
      log.append(el('p', 'intro', available
        ? view.typingPreview ? `${t('intro.online')} ${t('intro.preview')}` : t('intro.online')
        : t('intro.offline')));
    }
    const last = view.messages[view.messages.length - 1];
    if (saidSeq < 0) saidSeq = last?.seq ?? 0;
    else if (last && last.seq > saidSeq) {
      saidSeq = last.seq;
      if (last.author.kind !== 'visitor') {
        const b = last.body;
        const text = b.kind === 'event' ? (b.event ? chatEvent(b.event, t) : b.text) : b.kind === 'text' ? b.text
          : b.kind === 'product' ? b.name : b.kind === 'offer' ? b.title : t('msg.image');
        said.textContent = last.author.kind === 'agent' ? t('msg.said', { name: last.author.name, text }) : text;
      }
    }
    for (const m of view.messages) {
      const kind = m.author.kind;
      const bubble = el('div', `msg ${kind}`);
      bubble.setAttribute('data-seq', String(m.seq));
      if (m.author.kind === 'agent') bubble.append(el('span', 'who', m.author.name));
      bubble.append(renderBody(m, server));
      log.append(bubble);
    }
    for (const p of view.pending) {
      const bubble = el('div', `msg visitor ${p.refused ? 'refused' : 'sending'}`, p.text);
      if (p.refused) {
        const why = el('span', 'why', `${t('msg.notSent', { reason: p.refused })} `);
        const remove = el('button', '', t('msg.remove'));
        remove.addEventListener('click', () => handlers.discard(p.client_id));
        why.append(remove);
        bubble.append(why);
      } else {
        bubble.title = t('msg.sending');
      }
      log.append(bubble);
    }
    if (left && view.pending.length === 0)
      log.append(el('p', 'note left', t('note.left')));
    if (status === 'closed') log.append(el('p', 'note', t('note.closed')));
    if (blocked) log.append(el('p', 'note', t('note.blocked')));
    log.scrollTop = log.scrollHeight;
  };

  button.addEventListener('click', () => open(panel.hidden));
  toast.addEventListener('click', () => open(true));
  $<HTMLButtonElement>('.min').addEventListener('click', () => { open(false); button.focus(); });
  // Esc closes the panel and gives the keyboard back where it came from.
  panel.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    e.preventDefault();
    open(false);
    button.focus();
  });
  $<HTMLButtonElement>('.end').addEventListener('click', () => handlers.end());
  $<HTMLButtonElement>('.trb').addEventListener('click', () => {
    trForm.hidden = false;
    trTo.value ||= String(new FormData(form).get('email') ?? '');
    trTo.focus();
  });
  const askTranscript = () => {
    if (!trTo.value.trim() || !trTo.checkValidity()) return trTo.reportValidity();
    handlers.transcript(trTo.value.trim());
    trForm.hidden = true;
  };
  $<HTMLButtonElement>('.trs').addEventListener('click', askTranscript);
  trTo.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      askTranscript();
    }
  });
  let typingTimer: number | undefined;
  textarea.addEventListener('input', () => {
    // At most ~4 previews a second, well inside the hub's rate limit.
    if (typingTimer !== undefined) return;
    typingTimer = window.setTimeout(() => {
      typingTimer = undefined;
      handlers.typing(textarea.value.slice(0, 2000));
    }, 250);
  });
  textarea.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = textarea.value.trim();
    if (!text || view.blocked) return;
    const data = new FormData(form);
    const name = String(data.get('name') ?? '').trim();
    const email = String(data.get('email') ?? '').trim();
    handlers.send(text, contactRow.hidden ? null : { name: name || null, email: email || null });
    textarea.value = '';
  });
  localize();
  (document.body || document.documentElement).appendChild(host);

  return {
    update(next: Partial<View>) {
      view = { ...view, ...next };
      // New agent messages while the panel is closed: count them, and show the latest.
      const fresh = view.messages.filter((m) => m.seq > seenSeq);
      if (fresh.length) {
        seenSeq = Math.max(...fresh.map((m) => m.seq));
        const fromAgent = fresh.filter((m) => m.author.kind === 'agent');
        if (fromAgent.length && panel.hidden) {
          unread += fromAgent.length;
          const last = fromAgent[fromAgent.length - 1];
          toast.replaceChildren(el('span', 'who', last.author.kind === 'agent' ? last.author.name : ''), renderBody(last, server));
          toast.hidden = false;
        }
      }
      render();
    },
    /** Messages already shown on an earlier page count as seen. */
    markSeen(seq: number) {
      seenSeq = Math.max(seenSeq, seq);
    },
    isOpen: () => !panel.hidden,
    /** Redraws in the language just chosen. */
    localize() {
      localize();
      render();
    },
    open,
    hide() {
      host.remove();
    },
  };
}

export type Ui = ReturnType<typeof mountUi>;
