// Co-browsing (P8), loaded by the widget only when an agent asks to view the page (so
// widget.js stays small): asks the visitor when the site wants consent, records the page
// with rrweb while an agent views it, says so visibly with a Stop button, and shows where
// the agent points. Privacy happens here, before anything leaves the browser: every form
// value is masked unless the shop opts a field in (`data-vitrine-unmask`), passwords (also
// once a "show password" toggle made them text) and payment-card fields
// (`autocomplete="cc-…"`) always; text typed in editable areas (`contenteditable`) unless
// opted in; hidden inputs (CSRF tokens) are never recorded; and whatever the shop marks with
// `data-vitrine-mask` (text) or `data-vitrine-block` (the whole element); the widget
// itself is never recorded. What rrweb cannot show (canvas drawings, frames from other
// sites, a page too large to send) is counted here and told to the agent's mirror as a
// `vitrine-limits` event, so the mirror says what is missing instead of looking complete;
// the element under focus travels as `vitrine-focus`.
import { record, EventType } from 'rrweb';
import type { VisitorFrame, VisitorServerFrame } from '../../shared/protocol';
import en from 'catalog:widget-cobrowse/en';
import fr from 'catalog:widget-cobrowse/fr';
import pl from 'catalog:widget-cobrowse/pl';
import type messages from '../../i18n/widget-cobrowse/en.json';
import { translator, type Language } from '../../shared/i18n';

export interface CobrowseContext {
  send(frame: VisitorFrame): boolean;
  language(): Language;
  /** Bytes the socket has not sent yet. */
  buffered(): number;
}

type Key = keyof typeof messages;
const CATALOGS = { en, fr, pl };
let ctx: CobrowseContext;
const t = (key: Key, values?: Record<string, unknown>) => translator<Key>(CATALOGS[ctx.language()], en)(key, values);

/** Characters of event JSON per frame: escaped inside the frame, it stays under 16 KiB. */
const CHUNK_CHARS = 6000;
const FLUSH_MS = 100;
/** Past this much unsent, recording pauses and starts over from a snapshot. */
const MAX_BUFFERED = 1024 * 1024;
/** A batch larger than this (a huge page's snapshot) is not sent: the hub's burst for a
 *  session is 4 MiB, and a phone's uplink would take minutes. */
const MAX_BATCH_CHARS = 3 * 1024 * 1024;
/** The widget's own elements, what the shop hides whole, and hidden inputs (tokens). */
const BLOCKED = '[data-vitrine-widget],[data-vitrine-ui],[data-vitrine-call],[data-vitrine-block],input[type=hidden i]';
/** Text masked as it is recorded: what the shop marks, and what the visitor types into an
 *  editable area (an editor, a comment box) unless the shop opted it in. */
const MASKED_TEXT = '[data-vitrine-mask],[contenteditable]:not([contenteditable=false i]):not([data-vitrine-unmask])';

/** Inputs that are or ever were passwords: a "show password" toggle makes one `type=text`,
 *  and its value must stay in the browser all the same. */
const wasPassword = new WeakSet<Element>();
const passwordWatch = new MutationObserver((changes) => {
  for (const c of changes) if (c.oldValue?.toLowerCase() === 'password') wasPassword.add(c.target as Element);
});
function watchPasswords(): void {
  document.querySelectorAll('input[type=password i]').forEach((e) => wasPassword.add(e));
  passwordWatch.observe(document, { subtree: true, attributes: true, attributeFilter: ['type'], attributeOldValue: true });
}

const CSS = `
.bar { position: fixed; left: 50%; top: 12px; transform: translateX(-50%); z-index: 2147483002; display: flex; gap: 10px; align-items: center;
  max-width: calc(100vw - 24px); background: #0f172a; color: #fff; font: 14px/1.4 system-ui, sans-serif; padding: 8px 12px; border-radius: 10px; box-shadow: 0 6px 20px rgba(0,0,0,.3); }
button { border: 0; border-radius: 8px; padding: 5px 10px; cursor: pointer; font: inherit; background: #334155; color: #fff; }
button.ok { background: #15803d; } button.stop { background: #dc2626; }
button:focus-visible { outline: 3px solid #93c5fd; outline-offset: 2px; }
.point { position: fixed; z-index: 2147483002; width: 44px; height: 44px; margin: -22px 0 0 -22px; border: 4px solid #f59e0b; border-radius: 50%;
  box-shadow: 0 0 0 4px rgba(245,158,11,.35); pointer-events: none; animation: pulse 1s ease-out 3; }
.point span { position: absolute; left: 50px; top: 6px; white-space: nowrap; background: #f59e0b; color: #111; font: 600 12px system-ui, sans-serif; padding: 2px 6px; border-radius: 6px; }
@keyframes pulse { from { transform: scale(.6); } to { transform: scale(1.2); } }
`;

let root: ShadowRoot | null = null;
function shadow(): ShadowRoot {
  if (root) return root;
  const host = document.createElement('div');
  // The widget's own elements are never recorded.
  host.setAttribute('data-vitrine-ui', '');
  (document.body || document.documentElement).appendChild(host);
  root = host.attachShadow({ mode: 'open' });
  const style = document.createElement('style');
  style.textContent = CSS;
  root.appendChild(style);
  return root;
}

let bar: HTMLDivElement | null = null;
function showBar(text: string, buttons: [string, string, () => void][]): void {
  bar?.remove();
  bar = document.createElement('div');
  bar.className = 'bar';
  bar.setAttribute('role', 'status');
  const span = document.createElement('span');
  span.textContent = text;
  bar.appendChild(span);
  for (const [label, cls, onClick] of buttons) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = cls;
    b.textContent = label;
    b.onclick = onClick;
    bar.appendChild(b);
  }
  shadow().appendChild(bar);
}
function hideBar(): void {
  bar?.remove();
  bar = null;
}

/** rrweb's mask: everything, unless the shop opted the field in and it is no secret. */
function mask(text: string, element: HTMLElement): string {
  const input = element as HTMLInputElement;
  if (input.type === 'password') wasPassword.add(element);
  const autocomplete = input.autocomplete || element.getAttribute('autocomplete') || '';
  const secret = wasPassword.has(element) || /pass(word)?|pwd/i.test(`${input.name} ${element.id}`) || /^cc-|(^|\s)(current|new)-password\b|one-time-code/.test(autocomplete);
  const optedIn = element.closest('[data-vitrine-unmask]') && !element.closest('[data-vitrine-mask]');
  return !secret && optedIn ? text : '•'.repeat(Math.min(text.length, 20));
}

/** What the mirror cannot show of this page (told with each full snapshot). */
export interface Limits {
  elements: number;
  canvases: number;
  /** Frames whose document this page cannot read (another site's). */
  frames: number;
  /** Characters of a snapshot that was too large to send. */
  too_large?: number;
}

function limits(): Limits {
  const count = (selector: string, hidden: (e: Element) => boolean) =>
    [...document.querySelectorAll(selector)].filter((e) => !e.closest(BLOCKED) && hidden(e)).length;
  const foreign = (e: Element) => {
    try {
      return !(e as HTMLIFrameElement).contentDocument;
    } catch {
      return true;
    }
  };
  return {
    elements: document.getElementsByTagName('*').length,
    canvases: count('canvas', () => true),
    frames: count('iframe', foreign),
  };
}

const custom = (tag: string, payload: unknown) => ({ type: EventType.Custom, data: { tag, payload }, timestamp: Date.now() });

let stopRecording: (() => void) | undefined;
/** The agent this tab's visitor lets view their pages, until they press Stop (see
 *  `cobrowse_request`); kept across the tab's pages, as the hub keeps the consent. */
const CONSENT_KEY = 'vitrine:cobrowse-consent';
function consented(agent: string | null): void {
  try {
    if (agent) sessionStorage.setItem(CONSENT_KEY, agent);
    else sessionStorage.removeItem(CONSENT_KEY);
  } catch {
    /* storage blocked: the visitor is asked again */
  }
}
function consentedTo(): string | null {
  try {
    return sessionStorage.getItem(CONSENT_KEY);
  } catch {
    return null;
  }
}
let pending: unknown[] = [];
let seq = 0;
let timer: number | undefined;
let paused = false;
/** The page was too large: nothing is sent until the next snapshot (next page, or asked). */
let tooLarge = false;

function send(json: string): void {
  for (let at = 0; at < json.length; at += CHUNK_CHARS) {
    const chunk = json.slice(at, at + CHUNK_CHARS);
    ctx.send({ type: 'cobrowse_events', seq: ++seq, chunk, last: at + CHUNK_CHARS >= json.length });
  }
}

/** Once the socket has sent what it held, start over from a snapshot. */
function resume(): void {
  if (!stopRecording) return;
  if (ctx.buffered() > MAX_BUFFERED / 4) return void (timer = window.setTimeout(resume, 500));
  timer = undefined;
  paused = false;
  record.takeFullSnapshot();
}

function flush(): void {
  timer = undefined;
  if (!pending.length) return;
  if (ctx.buffered() > MAX_BUFFERED) {
    // The network cannot keep up: drop these, and send a fresh snapshot once it can.
    pending = [];
    paused = true;
    timer = window.setTimeout(resume, 1000);
    return;
  }
  const json = JSON.stringify(pending);
  pending = [];
  if (json.length > MAX_BATCH_CHARS) {
    tooLarge = true;
    return send(JSON.stringify([custom('vitrine-limits', { ...limits(), too_large: json.length })]));
  }
  send(json);
}

function focused(e: FocusEvent): void {
  const id = e.type === 'focusin' ? record.mirror.getId(e.target as Node) : -1;
  emit(custom('vitrine-focus', { id }));
}

function emit(event: { type: EventType }): void {
  if (paused) return;
  if (event.type === EventType.Meta) tooLarge = false;
  if (tooLarge) return;
  pending.push(event);
  if (event.type === EventType.FullSnapshot) pending.push(custom('vitrine-limits', limits()));
  timer ??= window.setTimeout(flush, FLUSH_MS);
}

function startRecording(agent: string): void {
  showBar(t('viewing', { name: agent }), [[t('stop'), 'stop', () => { consented(null); ctx.send({ type: 'cobrowse_stop' }); stop(); }]]);
  // Started again while recording (a hub that lost its sessions): its viewers need the page.
  if (stopRecording) return record.takeFullSnapshot();
  document.addEventListener('focusin', focused, true);
  document.addEventListener('focusout', focused, true);
  watchPasswords();
  const stopRecorder = record({
    emit,
    maskAllInputs: true,
    maskInputFn: mask,
    maskTextSelector: MASKED_TEXT,
    blockSelector: BLOCKED,
    inlineStylesheet: true,
    recordCanvas: false,
    collectFonts: false,
    sampling: { mousemove: 100, scroll: 150, input: 'last', media: 800 },
    slimDOMOptions: 'all',
  });
  stopRecording = () => {
    stopRecorder?.();
    passwordWatch.disconnect();
    document.removeEventListener('focusin', focused, true);
    document.removeEventListener('focusout', focused, true);
  };
}

function stop(): void {
  stopRecording?.();
  stopRecording = undefined;
  if (timer !== undefined) window.clearTimeout(timer);
  timer = undefined;
  pending = [];
  paused = tooLarge = false;
  hideBar();
}

function point(x: number, y: number, agent: string): void {
  const ring = document.createElement('div');
  ring.className = 'point';
  ring.style.left = `${Math.round(x * window.innerWidth)}px`;
  ring.style.top = `${Math.round(y * window.innerHeight)}px`;
  const label = document.createElement('span');
  label.textContent = t('pointing', { name: agent });
  ring.appendChild(label);
  shadow().appendChild(ring);
  window.setTimeout(() => ring.remove(), 4000);
}

(window as unknown as { __vitrineCobrowse: unknown }).__vitrineCobrowse = {
  handle(frame: VisitorServerFrame, context: CobrowseContext): void {
    ctx = context;
    switch (frame.type) {
      case 'cobrowse_request': {
        const agent = frame.agent_name;
        // Asked again by the agent the visitor already let in, who never pressed Stop: the
        // hub lost its memory (an evicted Durable Object), not the visitor their mind.
        if (consentedTo() === agent) return void ctx.send({ type: 'cobrowse_consent', accept: true });
        showBar(t('ask', { name: agent }), [
          [t('allow'), 'ok', () => { hideBar(); consented(agent); ctx.send({ type: 'cobrowse_consent', accept: true }); }],
          [t('refuse'), '', () => { hideBar(); consented(null); ctx.send({ type: 'cobrowse_consent', accept: false }); }],
        ]);
        break;
      }
      case 'cobrowse_start':
        startRecording(frame.agent_name);
        break;
      case 'cobrowse_snapshot':
        if (stopRecording) record.takeFullSnapshot();
        break;
      case 'cobrowse_end':
        stop();
        break;
      case 'cobrowse_point':
        point(frame.x, frame.y, frame.agent_name);
        break;
    }
  },
};
