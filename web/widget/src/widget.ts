// The visitor widget: one <script data-site="KEY" async> tag on the shop's pages.
// It reports presence (page views, activity, leaving) to the site's hub and carries the
// visitor's chat (chat.ts, ui.ts). It must never break the host page: everything runs
// inside try/catch, the only global is `window.Vitrine`, and the UI lives in a shadow root.

import type { Activity, PageView, VisitorCredential, VisitorFrame, VisitorServerFrame } from '../../shared/protocol';
import { CLOSE_FORBIDDEN, CLOSE_UNKNOWN_SITE, PROTOCOL_VERSION } from '../../shared/protocol';
import { LiveSocket } from '../../shared/socket';
import { createChat } from './chat';

const VISIT_TIMEOUT_MS = 30 * 60 * 1000; // a new visit after 30 minutes without activity
const IDLE_AFTER_MS = 60 * 1000; // no input for this long (or a hidden tab) means idle

/** What the widget remembers between pages (first-party localStorage). */
interface Saved {
  /** Who this browser is for this site, as the hub said (it alone proves it). */
  credential?: VisitorCredential | null;
  visitId: string;
  visitStartedAt: number;
  lastActivityAt: number;
  /** Page views of this visit so far, shared by the visitor's tabs. */
  seq: number;
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function randomId(length: number): string {
  const bytes = new Uint8Array(length);
  crypto.getRandomValues(bytes);
  let id = '';
  bytes.forEach((b) => (id += ID_ALPHABET[b & 63]));
  return id;
}

/** Time-sortable so the store lists visits and page views in order. */
function newVisitId(now: number): string {
  return now.toString(36).padStart(9, '0') + '-' + randomId(8);
}

/** This release's call UI (an immutable file), filled in by build.mjs. */
declare const __CALL_BUNDLE__: { src: string; integrity: string };

function start(script: HTMLScriptElement): void {
  const site = script.getAttribute('data-site');
  if (!site) throw new Error('missing data-site attribute');
  const server = new URL(script.src, location.href);
  const wsUrl = `${server.protocol === 'https:' ? 'wss' : 'ws'}://${server.host}/ws/visitor?site=${encodeURIComponent(site)}`;
  const storageKey = `vitrine:${site}`;

  let memory: Saved | null = null; // used when storage is blocked
  const load = (): Saved | null => {
    try {
      const raw = localStorage.getItem(storageKey);
      return raw ? (JSON.parse(raw) as Saved) : memory;
    } catch {
      return memory;
    }
  };
  const save = (s: Saved): void => {
    memory = s;
    try {
      localStorage.setItem(storageKey, JSON.stringify(s));
    } catch {
      /* storage blocked: keep it in memory */
    }
  };

  const now = Date.now();
  let saved = load();
  if (!saved || typeof saved.visitId !== 'string') {
    saved = { visitId: newVisitId(now), visitStartedAt: now, lastActivityAt: now, seq: 0 };
  } else if (now - saved.lastActivityAt > VISIT_TIMEOUT_MS) {
    saved = { ...saved, visitId: newVisitId(now), visitStartedAt: now, seq: 0 };
  }
  save(saved);
  const state: Saved = saved;

  let page: PageView = nextPageView(document.referrer || null);
  let pageOpenedAt = Date.now();
  let activity: Activity = document.hidden ? 'idle' : 'active';
  let lastInputAt = Date.now();
  const chat = createChat(site, `${server.protocol}//${server.host}`, (frame) => send(frame));

  function nextPageView(referrer: string | null): PageView {
    const latest = load();
    const seq = Math.max(state.seq, latest && latest.visitId === state.visitId ? latest.seq : 0) + 1;
    state.seq = seq;
    state.lastActivityAt = Date.now();
    save(state);
    return { seq, url: location.href, title: document.title.slice(0, 300), referrer, opened_ms_ago: 0 };
  }

  const socket = new LiveSocket(() => wsUrl, JSON.stringify({ type: 'ping' } satisfies VisitorFrame), {
    open: () => send(hello()),
    message: (data) => guard(() => onFrame(JSON.parse(data) as VisitorServerFrame)),
    closed: (ev) => {
      if (ev.code !== CLOSE_UNKNOWN_SITE && ev.code !== CLOSE_FORBIDDEN) return true;
      console.warn(`[vitrine] site key "${site}" is unknown, inactive or not allowed on this origin; the widget is off`);
      chat.hide();
      return false;
    },
  });

  function send(frame: VisitorFrame): boolean {
    return socket.send(JSON.stringify(frame));
  }

  function hello(): VisitorFrame {
    return {
      type: 'hello',
      v: PROTOCOL_VERSION,
      credential: state.credential ?? null,
      visit_id: state.visitId,
      visit_age_ms: Math.max(0, Date.now() - state.visitStartedAt),
      page: { ...page, opened_ms_ago: Math.max(0, Date.now() - pageOpenedAt) },
      activity,
      chat_after_seq: chat.cursor(),
    };
  }

  // -- calls: the call UI is a separate script, fetched when a call starts ----------------
  type CallUi = { handle(frame: VisitorServerFrame, ctx: { send(f: VisitorFrame): void }): void };
  let callUi: Promise<CallUi> | null = null;
  function callModule(): Promise<CallUi> {
    callUi ??= new Promise((resolve, reject) => {
      const tag = document.createElement('script');
      tag.src = new URL(__CALL_BUNDLE__.src, server).href;
      tag.integrity = __CALL_BUNDLE__.integrity;
      tag.crossOrigin = 'anonymous';
      tag.onload = () => resolve((window as unknown as { __vitrineCall: CallUi }).__vitrineCall);
      tag.onerror = () => { callUi = null; reject(new Error('the call UI did not load')); };
      document.head.appendChild(tag);
    });
    return callUi;
  }
  let callButton: HTMLButtonElement | null = null;
  let callPending = false;
  // "Request a call" is offered only when someone could answer it: calls on for the site
  // (V11), an agent available, the visitor not blocked (C9); a pending request stays.
  const calls = { on: false, agents: false, blocked: false, busy: false };
  function refreshCallButton(): void {
    const offered = calls.on && !calls.blocked && (calls.agents || callPending);
    if (!offered) { callButton?.remove(); callButton = null; return; }
    if (!callButton) {
      // Bottom left: never over the chat panel or the call popup, which sit on the right.
      const host = document.createElement('div');
      document.body.appendChild(host);
      const shadow = host.attachShadow({ mode: 'open' });
      shadow.innerHTML = '<style>button{position:fixed;left:20px;bottom:20px;z-index:2147482999;border:0;border-radius:20px;padding:8px 14px;background:#15803d;color:#fff;font:14px system-ui,sans-serif;cursor:pointer}button:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}</style><button type="button" class="vitrine-call" aria-live="polite"></button>';
      callButton = shadow.querySelector('button');
      callButton!.onclick = () => guard(() => { calls.busy = false; send({ type: 'call_request', cancel: callPending }); });
    }
    callButton!.textContent = calls.busy
      ? 'All advisors are busy — try again soon'
      : callPending ? 'Calling… (cancel)' : 'Request a call';
  }

  function onFrame(frame: VisitorServerFrame): void {
    // Blocked (C9) stops calls as well as chat; the chat part hears it below.
    if (frame.type === 'blocked' || (frame.type === 'error' && frame.code === 'blocked')) {
      calls.blocked = frame.type === 'blocked' ? frame.blocked : true;
      callPending = false;
      refreshCallButton();
    }
    if (chat.onFrame(frame)) return;
    switch (frame.type) {
      case 'welcome':
        // A browser the hub did not recognise is a new visitor: what it kept for the old
        // identity (its conversation) is not theirs.
        if (state.credential && state.credential.visitor_id !== frame.credential.visitor_id) chat.forget();
        state.credential = frame.credential;
        save(state);
        chat.welcome(frame.agents_available, frame.has_conversation, frame.blocked);
        Object.assign(calls, { on: frame.calls, agents: frame.agents_available, blocked: frame.blocked });
        refreshCallButton();
        break;
      case 'calls':
        calls.on = frame.enabled;
        refreshCallButton();
        break;
      case 'call_requested':
        callPending = frame.pending;
        refreshCallButton();
        break;
      case 'call_busy':
        calls.busy = true;
        refreshCallButton();
        break;

      case 'call_invite':
      case 'call_join':
      case 'call_closed':
      case 'interaction':
        if (frame.type === 'call_join') { callPending = false; refreshCallButton(); }
        callModule().then((m) => guard(() => m.handle(frame, { send })), (e) => console.warn('[vitrine]', e));
        break;
      case 'navigate':
        // V8: the agent sends this page elsewhere (the hub checked the site's origins).
        if (/^https?:\/\//i.test(frame.url)) location.assign(frame.url);
        break;
      case 'availability':
        chat.setAvailable(frame.agents_available);
        calls.agents = frame.agents_available;
        refreshCallButton();
        break;
      case 'error':
        console.warn(`[vitrine] server error ${frame.code}: ${frame.message}`);
        break;
    }
  }

  // -- page views, including single-page-app navigations --------------------------------
  let currentUrl = location.href;
  function onNavigate(): void {
    if (location.href === currentUrl) return;
    currentUrl = location.href;
    // Let the app set its new title first.
    window.setTimeout(() => guard(() => {
      page = nextPageView(page.url);
      pageOpenedAt = Date.now();
      send({ type: 'page_view', ...page });
    }), 50);
  }
  for (const method of ['pushState', 'replaceState'] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
      const result = original.apply(this, args);
      guard(onNavigate);
      return result;
    };
  }
  addEventListener('popstate', () => guard(onNavigate));

  // -- activity ----------------------------------------------------------------------------
  function setActivity(next: Activity): void {
    if (next === activity) return;
    activity = next;
    send({ type: 'activity', state: next });
  }
  const onInput = (): void => {
    lastInputAt = Date.now();
    if (Date.now() - state.lastActivityAt > 10_000) {
      state.lastActivityAt = Date.now();
      save(state);
    }
    if (!document.hidden) setActivity('active');
  };
  for (const ev of ['pointerdown', 'pointermove', 'keydown', 'scroll', 'touchstart']) {
    addEventListener(ev, onInput, { passive: true, capture: true });
  }
  document.addEventListener('visibilitychange', () => guard(() => {
    if (document.hidden) setActivity('idle');
    else onInput();
  }));
  window.setInterval(() => guard(() => {
    if (!document.hidden && Date.now() - lastInputAt > IDLE_AFTER_MS) setActivity('idle');
  }), 5000);

  // -- leaving, and coming back from the back/forward cache -------------------------------
  addEventListener('pagehide', () => guard(() => {
    state.lastActivityAt = Date.now();
    save(state);
    send({ type: 'leave' });
    socket.stop(1000, 'page hidden');
  }));
  addEventListener('pageshow', (ev) => guard(() => {
    if (!ev.persisted) return;
    page = nextPageView(null);
    pageOpenedAt = Date.now();
    socket.start();
  }));

  (window as unknown as { Vitrine: unknown }).Vitrine = {
    version: PROTOCOL_VERSION,
    visitorId: () => state.credential?.visitor_id ?? null,
  };
  socket.start();
}

function guard(f: () => void): void {
  try {
    f();
  } catch (e) {
    console.warn('[vitrine]', e);
  }
}

guard(() => {
  if ((window as unknown as { Vitrine?: unknown }).Vitrine) return; // loaded twice: keep the first
  const script = document.currentScript as HTMLScriptElement | null;
  if (!script) throw new Error('cannot find my <script> tag');
  start(script);
});
