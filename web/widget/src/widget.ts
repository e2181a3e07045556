// The visitor widget: one <script data-site="KEY" async> tag on the shop's pages.
// It reports presence (page views, activity, leaving) to the site's hub and carries the
// visitor's chat (chat.ts, ui.ts). It must never break the host page: everything runs
// inside try/catch, the only global is `window.Vitrine`, and the UI lives in a shadow root.

import type { Activity, Identity, PageView, ShopEvent, VisitorCredential, VisitorFrame, VisitorServerFrame } from '../../shared/protocol';
import { CLOSE_FORBIDDEN, CLOSE_UNKNOWN_SITE, PROTOCOL_VERSION } from '../../shared/protocol';
import { LiveSocket } from '../../shared/socket';
import { pickLanguage, type Language } from '../../shared/i18n';
import { createChat } from './chat';
import { language, t, useLanguage } from './i18n';

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
declare const __COBROWSE_BUNDLE__: { src: string; integrity: string };

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
  // B4: the browser's language from the start; the site's, if its admin forced one, once
  // the hub has said so.
  const browserLanguage = pickLanguage(navigator.languages?.length ? navigator.languages : [navigator.language]);
  const relabel = () => { chat.localize(); refreshCallButton(); };
  useLanguage(browserLanguage, server, relabel);

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
  /** A script fetched on first use (calls, co-browsing: outside widget.js's budget), which
   *  registers itself on the private global `name`. */
  function lazy<T>(bundle: { src: string; integrity: string }, name: string): () => Promise<T> {
    let loaded: Promise<T> | null = null;
    return () => loaded ??= new Promise((resolve, reject) => {
      const tag = document.createElement('script');
      tag.src = new URL(bundle.src, server).href;
      tag.integrity = bundle.integrity;
      tag.crossOrigin = 'anonymous';
      tag.onload = () => resolve((window as unknown as Record<string, T>)[name]);
      tag.onerror = () => { loaded = null; reject(new Error(`${bundle.src} did not load`)); };
      document.head.appendChild(tag);
    });
  }
  type CallUi = { handle(frame: VisitorServerFrame, ctx: { send(f: VisitorFrame): void; language(): Language }): void };
  const callModule = lazy<CallUi>(__CALL_BUNDLE__, '__vitrineCall');
  // P8: co-browsing's recorder, fetched only when an agent asks to view the page.
  type CobrowseUi = { handle(frame: VisitorServerFrame, ctx: { send(f: VisitorFrame): boolean; language(): Language; buffered(): number }): void };
  const cobrowseModule = lazy<CobrowseUi>(__COBROWSE_BUNDLE__, '__vitrineCobrowse');
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
      host.setAttribute('data-vitrine-ui', ''); // never recorded (co-browsing)
      document.body.appendChild(host);
      const shadow = host.attachShadow({ mode: 'open' });
      shadow.innerHTML = '<style>button{position:fixed;left:20px;bottom:20px;z-index:2147482999;border:0;border-radius:20px;padding:8px 14px;background:#15803d;color:#fff;font:14px system-ui,sans-serif;cursor:pointer}button:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}</style><button type="button" class="vitrine-call" aria-live="polite"></button>';
      callButton = shadow.querySelector('button');
      callButton!.onclick = () => guard(() => { calls.busy = false; send({ type: 'call_request', cancel: callPending }); });
    }
    callButton!.textContent = t(calls.busy ? 'call.busy' : callPending ? 'call.pending' : 'call.request');
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
        welcomed = true;
        // A browser the hub did not recognise is a new visitor: what it kept for the old
        // identity (its conversation) is not theirs.
        if (state.credential && state.credential.visitor_id !== frame.credential.visitor_id) chat.forget();
        state.credential = frame.credential;
        save(state);
        useLanguage(frame.language ?? browserLanguage, server, relabel);
        chat.welcome(frame.agents_available, frame.has_conversation, frame.blocked, frame.typing_preview);
        Object.assign(calls, { on: frame.calls, agents: frame.agents_available, blocked: frame.blocked });
        refreshCallButton();
        // Who the shop says this is, on every connection (the hub writes only a change).
        if (identity) send(identity);
        for (const event of events.splice(0)) send(event);
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
        callModule().then((m) => guard(() => m.handle(frame, { send, language })), (e) => console.warn('[vitrine]', e));
        break;
      case 'cobrowse_request':
      case 'cobrowse_start':
      case 'cobrowse_snapshot':
      case 'cobrowse_end':
      case 'cobrowse_point':
        cobrowseModule().then((m) => guard(() => m.handle(frame, { send, language, buffered: () => socket.buffered })), (e) => console.warn('[vitrine]', e));
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

  // -- the shop's JavaScript API (README: "The widget's JavaScript API") -----------------
  let welcomed = false;
  let identity: VisitorFrame | null = null;
  const events: VisitorFrame[] = []; // tracked before the hub said welcome
  const api = {
    version: PROTOCOL_VERSION,
    visitorId: () => state.credential?.visitor_id ?? null,
    /** K1: the shop's signed-in customer; `signature` is made by the shop's backend. */
    identify(user: Partial<Identity> & { id: string | number }, options?: { signature?: string }) {
      guard(() => {
        const known: Identity = { id: String(user.id), name: null, email: null, phone: null, address: null };
        for (const k of ['name', 'email', 'phone', 'address'] as const) {
          if (user[k] != null && user[k] !== '') known[k] = String(user[k]);
        }
        identity = { type: 'identify', identity: known, signature: options?.signature ?? null };
        if (welcomed) send(identity);
      });
    },
    /** K4: `cart` (what the cart holds now) or `purchase`. */
    track(kind: ShopEvent['kind'], props: { value?: number; currency?: string; items?: string[] } = {}) {
      guard(() => {
        const frame: VisitorFrame = {
          type: 'track',
          event: {
            event_id: newVisitId(Date.now()),
            kind,
            value: Number(props.value ?? 0),
            currency: props.currency ?? null,
            items: (props.items ?? []).map((u) => new URL(u, location.href).href),
          },
        };
        if (!welcomed || !send(frame)) events.push(frame);
        events.splice(0, events.length - 20);
      });
    },
    /** The customer signed out: this browser becomes a new, anonymous visitor. */
    reset() {
      guard(() => {
        identity = null;
        welcomed = false;
        state.credential = null;
        save(state);
        chat.forget();
        socket.stop(1000, 'reset');
        socket.start();
      });
    },
  };
  // Calls made before the widget loaded wait in `Vitrine.q` (the README's snippet).
  const queued = (window as unknown as { Vitrine?: { q?: [string, unknown[]][] } }).Vitrine?.q ?? [];
  (window as unknown as { Vitrine: unknown }).Vitrine = api;
  for (const [method, args] of queued) {
    const f = (api as unknown as Record<string, (...a: unknown[]) => void>)[method];
    if (typeof f === 'function') f(...Array.from(args));
  }
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
  if ((window as unknown as { Vitrine?: { version?: number } }).Vitrine?.version) return; // loaded twice: keep the first
  const script = document.currentScript as HTMLScriptElement | null;
  if (!script) throw new Error('cannot find my <script> tag');
  start(script);
});
