// The widget's call UI, loaded only when a call starts (keeps widget.js small). It
// registers itself on a private global the widget reads once the script has loaded.
// Everything lives in its own shadow root, like the chat panel.
import type { VisitorFrame, VisitorServerFrame } from '../../shared/protocol';
import { CallSession, callSupportProblem, initials, type CallProblem, type RemoteMedia, type SessionEnd } from '../../shared/call';
import en from 'catalog:widget-call/en';
import fr from 'catalog:widget-call/fr';
import pl from 'catalog:widget-call/pl';
import type messages from '../../i18n/widget-call/en.json';
import { translator, type Language } from '../../shared/i18n';

export interface CallContext {
  send(frame: VisitorFrame): void;
  /** The widget's language now. */
  language(): Language;
}

/** Its own messages, all three languages (loaded only for calls, so outside the widget's
 *  first-load budget). */
type CallKey = keyof typeof messages;
const CATALOGS = { en, fr, pl };

/** The context of the frame being handled. */
let ctx: CallContext;
const t = (key: CallKey, values?: Record<string, unknown>) => translator<CallKey>(CATALOGS[ctx.language()], en)(key, values);

const PROBLEM: Record<CallProblem, CallKey> = { no_webrtc: 'call.noWebrtc', no_devices: 'call.noDevices' };
const ENDED: Record<SessionEnd, CallKey | null> = {
  ended: 'end.ended', cancelled: 'end.cancelled', declined: 'end.declined', left: 'end.left',
  removed: 'end.removed', answered_elsewhere: null, connection_closed: 'end.connectionClosed', media_failed: 'end.mediaFailed', relay_failed: 'end.relayFailed',
};

const CSS = `
.call { position: fixed; z-index: 2147483001; background: #0f172a; color: #fff; font: 14px/1.4 system-ui, sans-serif;
  border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.35); padding: 12px; display: flex; flex-direction: column; gap: 8px; }
.call.popup { right: 20px; bottom: 130px; width: 340px; }
.call.docked { right: 0; top: 0; bottom: 0; width: 360px; border-radius: 0; }
.call.full { inset: 0; border-radius: 0; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); align-content: start; gap: 6px; flex: 1; overflow: auto; }
.full .tiles { grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); }
video { display: block; width: 100%; height: 100%; background: #1e293b; border-radius: 8px; object-fit: cover; }
.tile { position: relative; aspect-ratio: 16/9; } .camera-off video { visibility: hidden; }
.initials { position: absolute; inset: 0; display: grid; place-items: center; background: #1e293b; border-radius: 8px; font-size: 28px; font-weight: 600; color: #cbd5e1; }
.tile span { position: absolute; left: 6px; bottom: 6px; font-size: 12px; background: rgba(0,0,0,.5); padding: 0 4px; border-radius: 4px; }
.bar { display: flex; gap: 6px; flex-wrap: wrap; }
button { border: 0; border-radius: 8px; padding: 6px 10px; cursor: pointer; background: #334155; color: #fff; font: inherit; }
button.on { background: #2563eb; } button:focus-visible { outline: 3px solid #93c5fd; outline-offset: 2px; } button.hang { background: #dc2626; } button.ok { background: #15803d; }
.notice { background: #fef3c7; color: #78350f; border-radius: 8px; padding: 6px 8px; }
`;

let root: ShadowRoot | null = null;
let box: HTMLDivElement | null = null;
let session: CallSession | null = null;
let preview: CallSession | null = null;
type Layout = 'popup' | 'docked' | 'full';
let layout: Layout = 'popup';

/** The visitor's choices in the running call, kept for this tab so that a page change
 *  (the agent's Navigate, V8) rejoins with the same camera, microphone and layout. */
interface Choices { call_id: string; microphone: boolean; camera: boolean; layout: Layout }
const CHOICES = 'vitrine:call';

function remember(s: CallSession): void {
  const choices: Choices = { call_id: callId, microphone: s.microphoneOn, camera: s.cameraOn, layout };
  try { sessionStorage.setItem(CHOICES, JSON.stringify(choices)); } catch { /* storage off: defaults */ }
}

function recall(call: string): Choices | null {
  try {
    const c = JSON.parse(sessionStorage.getItem(CHOICES) || 'null') as Choices | null;
    return c && c.call_id === call ? c : null;
  } catch { return null; }
}

function forget(): void {
  try { sessionStorage.removeItem(CHOICES); } catch { /* nothing kept */ }
}
let callId = '';
/** A message shown above the running call (e.g. the interaction notice, V9). */
let banner: string | null = null;
/** Redraws the running call's panel (set while in a call). */
let redraw: (() => void) | null = null;

function mount(): HTMLDivElement {
  if (!root) {
    const host = document.createElement('div');
    host.setAttribute('data-vitrine-call', '');
    document.body.appendChild(host);
    root = host.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = CSS;
    root.appendChild(style);
  }
  if (!box) {
    box = document.createElement('div');
    root.appendChild(box);
  }
  box.className = `call ${layout}`;
  // A region, not a dialog: it never takes the keyboard from the shop's page; what it
  // says (calling you, call ended) is read out through its status lines.
  box.setAttribute('role', 'region');
  box.setAttribute('aria-label', t('call.region'));
  // Every change redraws the call; a keyboard user keeps their place: the button that had
  // focus gets it back once the new one is drawn (same name), instead of the page's body.
  const had = root.activeElement instanceof HTMLButtonElement ? buttonName(root.activeElement) : null;
  box.replaceChildren();
  if (had) {
    const drawn = box;
    queueMicrotask(() => {
      const again = [...drawn.querySelectorAll('button')].find((b) => buttonName(b) === had);
      again?.focus();
    });
  }
  return box;
}

function buttonName(b: HTMLButtonElement): string {
  return b.getAttribute('aria-label') ?? b.textContent ?? '';
}

function close(): void {
  box?.remove();
  box = null;
}

function button(text: string, cls: string, onClick: () => void, name?: string): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.className = cls;
  if (name) { b.setAttribute('aria-label', name); b.title = name; }
  b.onclick = onClick;
  return b;
}

/** A switch: its state is said to screen readers, not only by colour. */
function toggle(text: string, on: boolean, onClick: () => void, name?: string): HTMLButtonElement {
  const b = button(text, on ? 'on' : '', onClick, name);
  b.setAttribute('aria-pressed', String(on));
  return b;
}

function text(tag: string, content: string, cls = ''): HTMLElement {
  const e = document.createElement(tag);
  e.textContent = content;
  if (cls) e.className = cls;
  return e;
}

/** One <video> per stream, kept across redraws: a new element would flash black and
 *  restart playback each time the panel is drawn again. */
let videos = new Map<MediaStream, HTMLVideoElement>();

/** One person's video, or their initials while their camera is off (the <video> stays,
 *  hidden, so their voice keeps playing). */
function tile(stream: MediaStream | null, label: string, muted = false, camera = true): HTMLElement {
  const t = document.createElement('div');
  t.className = camera ? 'tile' : 'tile camera-off';
  let v = stream ? videos.get(stream) : undefined;
  if (!v) {
    v = document.createElement('video');
    v.autoplay = true;
    v.playsInline = true;
    if (stream) {
      v.srcObject = stream;
      videos.set(stream, v);
    }
  }
  v.muted = muted;
  t.append(v);
  if (!camera) {
    const i = text('div', initials(label), 'initials');
    i.setAttribute('aria-hidden', 'true');
    t.append(i);
  }
  t.append(text('span', label));
  return t;
}

/** Forgets the videos of streams no longer shown (call after a redraw). */
function pruneVideos(): void {
  videos = new Map([...videos].filter(([, v]) => v.isConnected));
}

/** A message on its own (call over, declined, unsupported): a small popup, never a
 *  full-screen layer over the shop. During a call it shows above the call instead. */
function notice(message: string, closeAfterMs = 0): void {
  if (session && redraw) {
    banner = message;
    redraw();
    return;
  }
  redraw = null;
  banner = null;
  layout = 'popup';
  const b = mount();
  const n = text('div', message, 'notice');
  n.setAttribute('role', 'status');
  b.append(n, button(t('call.close'), '', close));
  // A call that is over needs no answer: its notice goes by itself.
  if (closeAfterMs) setTimeout(() => { if (box === b && n.isConnected) close(); }, closeAfterMs);
}

/** How long "the call ended" stays before it closes by itself. */
const ENDED_NOTICE_MS = 8_000;

/** A call this browser declined by itself (V10), so its "declined" echo stays quiet. */
let unsupported = '';

function invite(frame: Extract<VisitorServerFrame, { type: 'call_invite' }>): void {
  const problem = callSupportProblem();
  if (problem) {
    // V10: no WebRTC or no devices here: say so, and let the agent know it was declined.
    unsupported = frame.call_id;
    ctx.send({ type: 'call_answer', call_id: frame.call_id, accept: false });
    notice(t('call.wants', { name: frame.agent_name, problem: t(PROBLEM[problem]) }));
    return;
  }
  const b = mount();
  const tiles = document.createElement('div');
  tiles.className = 'tiles';
  const calling = text('strong', t('call.calling', { name: frame.agent_name }));
  calling.setAttribute('role', 'status');
  b.append(calling, tiles);
  preview?.leave();
  preview = new CallSession(frame.preview, {
    onChange: (remotes) => {
      tiles.replaceChildren(...remotes.map((r) => tile(r.main, r.name, true, r.camera)));
      pruneVideos();
    },
    onEnded: () => {},
  });
  const answer = (accept: boolean) => {
    preview?.leave();
    preview = null;
    ctx.send({ type: 'call_answer', call_id: frame.call_id, accept });
    if (!accept) close();
  };
  const bar = document.createElement('div');
  bar.className = 'bar';
  bar.append(button(t('call.accept'), 'ok', () => answer(true)), button(t('call.decline'), 'hang', () => answer(false)));
  b.append(bar);
}

function join(frame: Extract<VisitorServerFrame, { type: 'call_join' }>): void {
  const problem = callSupportProblem();
  if (problem) {
    ctx.send({ type: 'call_hangup', call_id: frame.call_id });
    notice(t(PROBLEM[problem]));
    return;
  }
  session?.leave();
  callId = frame.call_id;
  let remotes: RemoteMedia[] = [];
  const render = () => {
    const s = session;
    if (!s) return;
    const b = mount();
    if (banner) b.append(text('div', banner, 'notice'));
    const tiles = document.createElement('div');
    tiles.className = 'tiles';
    for (const r of remotes) {
      tiles.append(tile(r.main, r.name, false, r.camera));
      if (r.screen) tiles.append(tile(r.screen, t('call.screenOf', { name: r.name })));
    }
    tiles.append(tile(s.local, t('call.you'), true, s.cameraOn));
    const bar = document.createElement('div');
    bar.className = 'bar';
    const device = (label: string, on: boolean, f: () => Promise<unknown>) =>
      toggle(label, on, () => { f().then(() => { remember(s); render(); }, (e) => notice(t('call.couldNotSwitch', { what: label, error: String(e) }))); });
    const view = (to: Layout, glyph: string, name: string) =>
      toggle(glyph, layout === to, () => { layout = to; remember(s); render(); }, name);
    bar.append(
      device(t('call.mic'), s.microphoneOn, () => s.setMicrophone(!s.microphoneOn)),
      device(t('call.camera'), s.cameraOn, () => s.setCamera(!s.cameraOn)),
      device(t('call.screen'), s.screenOn, () => s.setScreen(!s.screenOn)),
      view('popup', '▢', t('call.popup')),
      view('docked', '▮', t('call.docked')),
      view('full', '⛶', t('call.full')),
      button(t('call.hangUp'), 'hang', () => {
        ctx.send({ type: 'call_hangup', call_id: callId });
        s.leave();
      }),
    );
    b.append(tiles, bar);
    pruneVideos();
  };
  redraw = render;
  banner = null;
  session = new CallSession(frame.join, {
    onChange: (r) => { remotes = r; render(); },
    onEnded: (reason) => { session = null; ended(reason); },
  });
  // V3: visitors join with the camera off — unless this is the same call carrying on
  // after a page change (V8), where they keep what they had chosen.
  const kept = recall(frame.call_id);
  layout = kept?.layout ?? 'popup';
  session.publish({ microphone: kept?.microphone ?? true, camera: kept?.camera ?? false })
    .then(render, (e) => notice(t('call.couldNotStart', { error: String(e) })));
  render();
}

/** Says why the call is over (and closes by itself), or just closes. */
function ended(reason: SessionEnd): void {
  const key = ENDED[reason];
  if (key) notice(t(key), ENDED_NOTICE_MS); else close();
}

export function handle(frame: VisitorServerFrame, context: CallContext): void {
  ctx = context;
  switch (frame.type) {
    case 'call_invite': invite(frame); break;
    case 'call_join': join(frame); break;
    case 'call_closed':
      if (frame.call_id === unsupported) break;
      preview?.leave(); preview = null;
      if (session && frame.call_id === callId) { const s = session; session = null; s.leave(); }
      if (frame.call_id === callId) forget();
      ended(frame.reason);
      break;
    case 'interaction':
      notice(t(frame.allowed ? 'call.interactionOn' : 'call.interactionOff'));
      break;
    default: break;
  }
}

(window as unknown as { __vitrineCall: unknown }).__vitrineCall = { CallSession, callSupportProblem, handle };
