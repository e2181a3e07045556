// P8: rebuilds a visitor's page from the rrweb events the portal posts here, live, scaled
// to fit; a click posts back where the agent points (fractions of the visitor's viewport).
// rrweb draws the visitor's pointer and their clicks; the element under the visitor's focus
// (the widget's `vitrine-focus` events) is outlined. Runs in a sandboxed frame of the
// portal; the visitor's page is rebuilt without scripts in a frame nested in it.
import { Replayer, EventType, type eventWithTime } from 'rrweb';

type FromPortal =
  | { kind: 'events'; events: eventWithTime[] }
  | { kind: 'reset' }
  | { kind: 'sources'; origins: string[] };

/** The site's allowed origins, from the portal; empty: the site takes any origin. */
let origins: string[] | null = null;
let sealed = false;

/** Whatever the visitor's page names, the agent's browser fetches its styles, images and
 *  fonts only from the shop's own origins (else the visitor could make an agent's browser
 *  call any host and learn when and from where they watch). A site that takes any origin
 *  gets the page's own. The policy joins the header's (both hold) and, added before
 *  rrweb's frame exists, is inherited by it. */
function seal(href: string | undefined): void {
  if (sealed) return;
  sealed = true;
  let allowed = (origins ?? []).filter((o) => /^https?:\/\/[a-z0-9.:[\]-]+$/i.test(o));
  if (!allowed.length) {
    try {
      const url = new URL(href ?? '');
      if (url.protocol === 'http:' || url.protocol === 'https:') allowed = [url.origin];
    } catch {
      // no page address: nothing from outside
    }
  }
  const from = allowed.join(' ') || "'none'";
  const meta = document.createElement('meta');
  meta.httpEquiv = 'Content-Security-Policy';
  meta.content = `img-src ${from} data: blob:; style-src 'self' 'unsafe-inline' ${from}; font-src ${from} data:; media-src ${from} blob:`;
  document.head.prepend(meta);
}

const screen = document.getElementById('screen')!;
const touch = document.getElementById('touch')!;
let replayer: Replayer | null = null;
let size = { width: 1, height: 1 };
let focused: Element | null = null;

/** Outlines the element the visitor has focus in (rrweb's node ID; -1: none). */
function focus(id: number): void {
  focused?.removeAttribute('data-vitrine-focus');
  const node = id >= 0 ? replayer?.getMirror().getNode(id) : null;
  focused = node?.nodeType === Node.ELEMENT_NODE ? (node as Element) : null;
  focused?.setAttribute('data-vitrine-focus', '');
}

function fit(): void {
  const scale = Math.min(innerWidth / size.width, innerHeight / size.height, 1);
  screen.style.transform = `scale(${scale})`;
  touch.style.width = `${size.width * scale}px`;
  touch.style.height = `${size.height * scale}px`;
  touch.style.inset = 'auto';
}
addEventListener('resize', fit);

function add(event: eventWithTime): void {
  if (!replayer) {
    // A stream is joined at a page's start (meta, then its full snapshot).
    if (event.type !== EventType.Meta && event.type !== EventType.FullSnapshot) return;
    seal(event.type === EventType.Meta ? event.data.href : undefined);
    replayer = new Replayer([], {
      root: screen,
      liveMode: true,
      mouseTail: false,
      triggerFocus: false,
      UNSAFE_replayCanvas: false,
      showWarning: false,
      insertStyleRules: ['[data-vitrine-focus] { outline: 3px solid #f59e0b !important; outline-offset: 2px !important; }'],
    });
    replayer.on('custom-event', (e) => {
      const { tag, payload } = (e as { data: { tag: string; payload: { id?: number } } }).data;
      if (tag === 'vitrine-focus') focus(payload.id ?? -1);
    });
    replayer.on('resize', (d) => {
      size = d as { width: number; height: number };
      fit();
    });
    // The stream's own clock: each event plays once it is as late as the first one was,
    // whatever the two machines' clocks say.
    replayer.startLive(event.timestamp);
  }
  if (event.type === EventType.Meta) {
    size = { width: event.data.width, height: event.data.height };
    fit();
  }
  replayer.addEvent(event);
}

addEventListener('message', (e: MessageEvent<FromPortal>) => {
  if (e.source !== parent) return;
  if (e.data.kind === 'sources') {
    origins = e.data.origins;
    return;
  }
  if (e.data.kind === 'reset') {
    replayer?.destroy();
    replayer = null;
    focused = null;
    screen.replaceChildren();
    return;
  }
  for (const event of e.data.events) add(event);
});

touch.addEventListener('click', (e) => {
  const box = touch.getBoundingClientRect();
  const x = (e.clientX - box.left) / box.width;
  const y = (e.clientY - box.top) / box.height;
  if (x < 0 || x > 1 || y < 0 || y > 1) return;
  const ping = document.createElement('div');
  ping.className = 'ping';
  ping.style.left = `${e.clientX}px`;
  ping.style.top = `${e.clientY}px`;
  document.body.appendChild(ping);
  setTimeout(() => ping.remove(), 1500);
  parent.postMessage({ kind: 'point', x, y }, '*');
});
parent.postMessage({ kind: 'ready' }, '*');
