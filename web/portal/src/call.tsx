// The agent's side of calls: buttons in a visitor's details (start, answer, add,
// navigate) and the call panel (tiles, toggles, remove, leave, layouts, interaction).
import { useEffect, useRef, useState } from 'preact/hooks';
import type { LiveVisitor } from '../../shared/protocol';
import { CallSession, callSupportProblem, type RemoteMedia } from '../../shared/call';
import { GENERAL, type Hub } from './live';

export function CallActions({ hub, visitor }: { hub: Hub; visitor: LiveVisitor }) {
  const { call, calls } = hub.state;
  const [url, setUrl] = useState('');
  // The switch shows the agent's choice at once; the hub's `calls` frame (or an error)
  // then settles it. Without this, any redraw before the reply flicks it back.
  const [switching, setSwitching] = useState<boolean | null>(null);
  const error = hub.state.errors.get(GENERAL);
  useEffect(() => setSwitching(null), [calls.enabled, error]);
  if (!calls.available) return null;
  // What the agent chose, until the hub confirms it.
  const enabled = switching ?? calls.enabled;
  const inThisCall = call?.participants.some((p) => p.visitor_id === visitor.visitor_id && (p.state === 'invited' || p.state === 'joined'));
  const problem = callSupportProblem();
  return (
    <div class="call-actions">
      <label class="muted">
        <input type="checkbox" data-testid="calls-enabled" checked={enabled}
          onChange={(e) => {
            const enabled = (e.target as HTMLInputElement).checked;
            setSwitching(enabled);
            hub.send({ type: 'set_calls', enabled });
          }} />
        Offer calls to visitors on this site
      </label>
      {problem && <p class="error">{problem}</p>}
      {!call && visitor.call_requested && (
        <button data-testid="answer-call" onClick={() => hub.send({ type: 'call_accept', visitor_id: visitor.visitor_id })}>Answer call</button>
      )}
      {!call && !visitor.call_requested && enabled && (
        <button data-testid="start-call" onClick={() => hub.send({ type: 'call_start', visitor_ids: [visitor.visitor_id] })}>Start video call</button>
      )}
      {call && !inThisCall && (
        <button data-testid="add-to-call" onClick={() => hub.send({ type: 'call_add', call_id: call.call_id, visitor_ids: [visitor.visitor_id] })}>Add and invite guest</button>
      )}
      <form class="navigate" onSubmit={(e) => { e.preventDefault(); hub.clearError(); if (url) hub.send({ type: 'navigate', visitor_id: visitor.visitor_id, url }); }}>
        <input data-testid="navigate-url" type="url" placeholder="https://… (a page of your shop)" value={url} onInput={(e) => setUrl((e.target as HTMLInputElement).value)} />
        <button type="submit" data-testid="navigate">Navigate</button>
      </form>
    </div>
  );
}

function Tile({ stream, label, muted, onRemove }: { stream: MediaStream | null; label: string; muted?: boolean; onRemove?: () => void }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => { if (ref.current && ref.current.srcObject !== stream) ref.current.srcObject = stream; }, [stream]);
  return (
    <div class="tile">
      <video ref={ref} autoplay playsInline muted={muted} />
      <span>{label}</span>
      {onRemove && <button class="remove" aria-label={`Remove ${label}`} data-testid="remove-participant" onClick={onRemove}>✕</button>}
    </div>
  );
}

type Layout = 'popup' | 'docked' | 'full';

/** The running call: joins the media node as host with the join info from the hub. */
export function CallPanel({ hub }: { hub: Hub }) {
  const { call, callJoin, callEnded } = hub.state;
  const [session, setSession] = useState<CallSession | null>(null);
  const [remotes, setRemotes] = useState<RemoteMedia[]>([]);
  const [layout, setLayout] = useState<Layout>('popup');
  const [confirm, setConfirm] = useState<null | { text: string; action: string; run: () => void }>(null);
  const [, redraw] = useState(0);

  useEffect(() => {
    if (!callJoin) return;
    const s = new CallSession(callJoin, { onChange: setRemotes, onEnded: () => setSession(null) });
    setSession(s);
    s.publish({ microphone: true, camera: true }).then(() => redraw((n) => n + 1), (e) => console.warn('publish', e));
    return () => s.leave();
  }, [callJoin?.token]);

  if (!call && callEnded) {
    return <div class="call popup" data-testid="call-ended"><p>{callEnded}</p></div>;
  }
  if (!call) return null;
  const joined = call.participants.filter((p) => p.state === 'joined');
  const settingUp = joined.length === 0;
  const name = (visitorId: string) => `Visitor ${visitorId.slice(0, 6)}`;
  // The node knows visitors by seat ("guest-2"); the agent knows who sits there.
  const seated = (seat: string) => call.participants.find((p) => p.participant === seat);
  const label = (r: RemoteMedia) => { const p = seated(r.participant); return p ? name(p.visitor_id) : r.name; };
  const end = () => { hub.send({ type: 'call_end', call_id: call.call_id }); session?.end(); };
  const toggle = (label: string, on: boolean, f: () => Promise<unknown>) => (
    <button class={on ? 'on' : ''} onClick={() => f().then(() => redraw((n) => n + 1), (e) => alert(`${label}: ${e}`))}>{label}</button>
  );
  return (
    <div class={`call ${layout}`} data-testid="call-panel">
      {settingUp && (
        <div class="setting-up" data-testid="call-setting-up">
          <p>Setting up the call… waiting for {call.participants.filter((p) => p.state === 'invited').map((p) => name(p.visitor_id)).join(', ') || 'nobody'}</p>
          {call.participants.some((p) => p.state === 'declined') && <p class="muted">Declined: {call.participants.filter((p) => p.state === 'declined').map((p) => name(p.visitor_id)).join(', ')}</p>}
          <button data-testid="cancel-call" onClick={end}>Cancel</button>
        </div>
      )}
      <div class="tiles">
        {remotes.map((r) => (
          <>
            {r.main && <Tile stream={r.main} label={label(r)} onRemove={seated(r.participant) && (() => setConfirm({
              text: `Remove ${label(r)} from the call?`, action: 'Remove',
              // The hub frees the seat on the media node too.
              run: () => hub.send({ type: 'call_remove', call_id: call.call_id, visitor_id: seated(r.participant)!.visitor_id }),
            }))} />}
            {r.screen && <Tile stream={r.screen} label={`${label(r)} (screen)`} />}
          </>
        ))}
        {session && <Tile stream={session.local} label="You" muted />}
      </div>
      <div class="bar">
        {session && toggle('Mic', session.microphoneOn, () => session.setMicrophone(!session.microphoneOn))}
        {session && toggle('Camera', session.cameraOn, () => session.setCamera(!session.cameraOn))}
        {session && toggle('Screen', session.screenOn, () => session.setScreen(!session.screenOn))}
        <label class="interaction">
          <input type="checkbox" data-testid="allow-interaction" checked={call.interaction_allowed}
            onChange={(e) => hub.send({ type: 'set_interaction', call_id: call.call_id, allowed: (e.target as HTMLInputElement).checked })} />
          Allow visitor interaction
        </label>
        <button class={layout === 'popup' ? 'on' : ''} title="Popup" onClick={() => setLayout('popup')}>▢</button>
        <button class={layout === 'docked' ? 'on' : ''} title="Docked right" onClick={() => setLayout('docked')}>▮</button>
        <button class={layout === 'full' ? 'on' : ''} title="Full screen" onClick={() => setLayout('full')}>⛶</button>
        <button class="danger" data-testid="leave-call" onClick={() => setConfirm({ text: 'Leave the call? It ends for everyone.', action: 'Leave call', run: end })}>Leave call</button>
      </div>
      {confirm && (
        <div class="confirm" role="dialog">
          <p>{confirm.text}</p>
          <button data-testid="confirm" onClick={() => { confirm.run(); setConfirm(null); }}>{confirm.action}</button>
          <button class="ghost" onClick={() => setConfirm(null)}>Cancel</button>
        </div>
      )}
    </div>
  );
}
