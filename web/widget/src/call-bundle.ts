// The widget's call UI, loaded only when a call starts (keeps widget.js small). It
// registers itself on a private global the widget reads once the script has loaded.
// Everything lives in its own shadow root, like the chat panel.
import type { VisitorFrame, VisitorServerFrame } from '../../shared/protocol';
import { CallSession, callSupportProblem, type RemoteMedia } from '../../shared/call';

export interface CallContext {
  send(frame: VisitorFrame): void;
}

const CSS = `
.call { position: fixed; z-index: 2147483001; background: #0f172a; color: #fff; font: 14px/1.4 system-ui, sans-serif;
  border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.35); padding: 12px; display: flex; flex-direction: column; gap: 8px; }
.call.popup { right: 20px; bottom: 130px; width: 340px; }
.call.docked { right: 0; top: 0; bottom: 0; width: 360px; border-radius: 0; }
.call.full { inset: 0; border-radius: 0; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 6px; flex: 1; overflow: auto; }
video { width: 100%; background: #1e293b; border-radius: 8px; aspect-ratio: 16/9; object-fit: cover; }
.tile { position: relative; } .tile span { position: absolute; left: 6px; bottom: 6px; font-size: 12px; background: rgba(0,0,0,.5); padding: 0 4px; border-radius: 4px; }
.bar { display: flex; gap: 6px; flex-wrap: wrap; }
button { border: 0; border-radius: 8px; padding: 6px 10px; cursor: pointer; background: #334155; color: #fff; font: inherit; }
button.on { background: #2563eb; } button.hang { background: #dc2626; } button.ok { background: #16a34a; }
.notice { background: #fef3c7; color: #78350f; border-radius: 8px; padding: 6px 8px; }
`;

let root: ShadowRoot | null = null;
let box: HTMLDivElement | null = null;
let session: CallSession | null = null;
let preview: CallSession | null = null;
let layout: 'popup' | 'docked' | 'full' = 'popup';
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
  box.replaceChildren();
  return box;
}

function close(): void {
  box?.remove();
  box = null;
}

function button(text: string, cls: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.className = cls;
  b.onclick = onClick;
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

function tile(stream: MediaStream | null, label: string, muted = false): HTMLElement {
  const t = document.createElement('div');
  t.className = 'tile';
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
  t.append(v, text('span', label));
  return t;
}

/** Forgets the videos of streams no longer shown (call after a redraw). */
function pruneVideos(): void {
  videos = new Map([...videos].filter(([, v]) => v.isConnected));
}

/** A message on its own (call over, declined, unsupported): a small popup, never a
 *  full-screen layer over the shop. During a call it shows above the call instead. */
function notice(message: string): void {
  if (session && redraw) {
    banner = message;
    redraw();
    return;
  }
  redraw = null;
  banner = null;
  layout = 'popup';
  const b = mount();
  b.append(text('div', message, 'notice'), button('Close', '', close));
}

/** A call this browser declined by itself (V10), so its "declined" echo stays quiet. */
let unsupported = '';

function invite(frame: Extract<VisitorServerFrame, { type: 'call_invite' }>, ctx: CallContext): void {
  const problem = callSupportProblem();
  if (problem) {
    // V10: no WebRTC or no devices here: say so, and let the agent know it was declined.
    unsupported = frame.call_id;
    ctx.send({ type: 'call_answer', call_id: frame.call_id, accept: false });
    notice(`${frame.agent_name} wants to start a video call. ${problem}`);
    return;
  }
  const b = mount();
  const tiles = document.createElement('div');
  tiles.className = 'tiles';
  b.append(text('strong', `${frame.agent_name} is calling you`), tiles);
  preview?.leave();
  preview = new CallSession(frame.preview, {
    onChange: (remotes) => {
      tiles.replaceChildren(...remotes.filter((r) => r.main).map((r) => tile(r.main, r.name, true)));
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
  bar.append(button('Accept', 'ok', () => answer(true)), button('Decline', 'hang', () => answer(false)));
  b.append(bar);
}

function join(frame: Extract<VisitorServerFrame, { type: 'call_join' }>, ctx: CallContext): void {
  const problem = callSupportProblem();
  if (problem) {
    ctx.send({ type: 'call_hangup', call_id: frame.call_id });
    notice(problem);
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
      if (r.main) tiles.append(tile(r.main, r.name));
      if (r.screen) tiles.append(tile(r.screen, `${r.name} (screen)`));
    }
    tiles.append(tile(s.local, 'You', true));
    const bar = document.createElement('div');
    bar.className = 'bar';
    const toggle = (label: string, on: boolean, f: () => Promise<unknown>) =>
      button(label, on ? 'on' : '', () => { f().then(render, (e) => notice(`Could not switch ${label}: ${e}`)); });
    bar.append(
      toggle('Mic', s.microphoneOn, () => s.setMicrophone(!s.microphoneOn)),
      toggle('Camera', s.cameraOn, () => s.setCamera(!s.cameraOn)),
      toggle('Screen', s.screenOn, () => s.setScreen(!s.screenOn)),
      button('▢', layout === 'popup' ? 'on' : '', () => { layout = 'popup'; render(); }),
      button('▮', layout === 'docked' ? 'on' : '', () => { layout = 'docked'; render(); }),
      button('⛶', layout === 'full' ? 'on' : '', () => { layout = 'full'; render(); }),
      button('Hang up', 'hang', () => {
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
    onEnded: (reason) => { session = null; notice(reason); },
  });
  // V3: visitors join with the camera off.
  session.publish({ microphone: true, camera: false }).then(render, (e) => notice(`Could not start the call: ${e}`));
  render();
}

export function handle(frame: VisitorServerFrame, ctx: CallContext): void {
  switch (frame.type) {
    case 'call_invite': invite(frame, ctx); break;
    case 'call_join': join(frame, ctx); break;
    case 'call_closed':
      if (frame.call_id === unsupported) break;
      preview?.leave(); preview = null;
      if (session && frame.call_id === callId) { const s = session; session = null; s.leave(); }
      if (frame.reason) notice(frame.reason); else close();
      break;
    case 'interaction':
      notice(frame.allowed
        ? 'The agent lets you browse on your own now.'
        : 'The agent is guiding you again; your page follows theirs.');
      break;
    default: break;
  }
}

(window as unknown as { __vitrineCall: unknown }).__vitrineCall = { CallSession, callSupportProblem, handle };
