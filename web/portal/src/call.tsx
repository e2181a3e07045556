// The agent's side of calls: buttons in a visitor's details (start, answer, add,
// navigate) and the call panel (tiles, toggles, remove, leave, layouts, interaction).
import { useEffect, useRef, useState } from 'preact/hooks';
import type { LiveVisitor } from '../../shared/protocol';
import { CallSession, callSupportProblem, initials, type RemoteMedia, type SessionEnd } from '../../shared/call';
import type { CallEnd, StreamKey } from '../../shared/protocol';
import { useDialog } from './dialog';
import { t, time } from './i18n';
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
        {t('call.offer')}
      </label>
      {problem && <p class="error">{t(problem === 'no_webrtc' ? 'call.noWebrtc' : 'call.noDevices')}</p>}
      {!call && visitor.call_requested && (
        <button data-testid="answer-call" onClick={() => hub.send({ type: 'call_accept', visitor_id: visitor.visitor_id })}>{t('call.answer')}</button>
      )}
      {!call && !visitor.call_requested && enabled && (
        <button data-testid="start-call" onClick={() => hub.send({ type: 'call_start', visitor_ids: [visitor.visitor_id] })}>{t('call.start')}</button>
      )}
      {call && !inThisCall && (
        <button data-testid="add-to-call" onClick={() => hub.send({ type: 'call_add', call_id: call.call_id, visitor_ids: [visitor.visitor_id] })}>{t('call.addGuest')}</button>
      )}
      <form class="navigate" onSubmit={(e) => { e.preventDefault(); hub.clearError(); if (url) hub.send({ type: 'navigate', visitor_id: visitor.visitor_id, url }); }}>
        <input data-testid="navigate-url" type="url" placeholder={t('call.navigatePlaceholder')} aria-label={t('call.navigateLabel')} value={url} onInput={(e) => setUrl((e.target as HTMLInputElement).value)} />
        <button type="submit" data-testid="navigate">{t('call.navigate')}</button>
      </form>
    </div>
  );
}

/** One person's video, or their initials while their camera is off; the <video> stays
 *  (hidden) so their voice keeps playing. */
function Tile({ stream, camera, label, muted, onRemove, onView }: { stream: MediaStream | null; camera: boolean; label: string; muted?: boolean; onRemove?: () => void; onView?: () => void }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => { if (ref.current && ref.current.srcObject !== stream) ref.current.srcObject = stream; }, [stream]);
  return (
    <div class={camera ? 'tile' : 'tile camera-off'}>
      <video ref={ref} autoplay playsInline muted={muted} aria-label={camera ? t('call.videoOf', { name: label }) : undefined} />
      {!camera && <div class="initials" aria-hidden="true" data-testid="initials">{initials(label)}</div>}
      <span>{label}</span>
      {onView && <button class="view" aria-label={t('mirror.viewOf', { name: label })} title={t('mirror.view')} data-testid="view-participant-page" onClick={onView}>👁</button>}
      {onRemove && <button class="remove" aria-label={`Remove ${label}`} data-testid="remove-participant" onClick={onRemove}>✕</button>}
    </div>
  );
}

type Layout = 'popup' | 'docked' | 'full';

function CallConfirm({ text, action, run, onDone }: { text: string; action: string; run: () => void; onDone: () => void }) {
  const ref = useDialog<HTMLDivElement>(onDone);
  return (
    <div class="confirm" role="alertdialog" aria-modal="true" aria-label={text} ref={ref}>
      <p>{text}</p>
      <button data-testid="confirm" onClick={() => { run(); onDone(); }}>{action}</button>
      <button class="ghost" onClick={onDone}>{t('common.cancel')}</button>
    </div>
  );
}

/** How long "the call ended" stays before it closes by itself. */
const ENDED_NOTICE_MS = 8_000;

function CallEnded({ hub, reason, lost }: { hub: Hub; reason: CallEnd; lost: SessionEnd | null }) {
  useEffect(() => {
    const t = window.setTimeout(() => hub.dismissCallEnded(), ENDED_NOTICE_MS);
    return () => window.clearTimeout(t);
  }, [reason]);
  return (
    <div class="call popup ended" data-testid="call-ended" role="status">
      <p>{t(reason === 'cancelled' ? 'call.cancelled' : 'call.ended')}</p>
      {lost && LOST[lost] && <p data-testid="call-lost">{t(LOST[lost]!)}</p>}
      <button class="ghost" data-testid="close-call-ended" onClick={() => hub.dismissCallEnded()}>{t('common.close')}</button>
    </div>
  );
}

/** One key: its URL and bearer token, each with a copy button. */
function StreamKeyFields({ name, value }: { name: 'publish' | 'watch'; value: StreamKey }) {
  const [copied, setCopied] = useState<string | null>(null);
  const field = (label: string, text: string, what: string) => (
    <label>
      {label}
      <span class="copyable">
        <input readOnly value={text} data-testid={`stream-${name}-${what}`} onFocus={(e) => (e.target as HTMLInputElement).select()} />
        <button type="button" class="ghost" onClick={() => navigator.clipboard?.writeText(text).then(() => setCopied(what), () => {})}>
          {copied === what ? t('call.copied') : t('call.copy')}
        </button>
      </span>
    </label>
  );
  return (
    <>
      {field(t('call.streamUrl'), value.url, 'url')}
      {field(t('call.streamToken'), value.token, 'token')}
    </>
  );
}

/** B3: the call's WHIP and WHEP keys, asked of the hub when opened. */
function StreamDialog({ hub, callId, onDone }: { hub: Hub; callId: string; onDone: () => void }) {
  const ref = useDialog<HTMLDivElement>(onDone);
  useEffect(() => { hub.send({ type: 'call_stream_keys', call_id: callId }); }, [callId]);
  const keys = hub.state.streamKeys?.call_id === callId ? hub.state.streamKeys : null;
  return (
    <div class="confirm stream" role="dialog" aria-modal="true" aria-label={t('call.streamTitle')} ref={ref} data-testid="stream-dialog">
      <h3>{t('call.streamTitle')}</h3>
      {keys ? (
        <>
          <p>{t('call.streamPublish')}</p>
          <StreamKeyFields name="publish" value={keys.publish} />
          <p>{t('call.streamWatch')}</p>
          <StreamKeyFields name="watch" value={keys.watch} />
          <p class="muted">{t('call.streamExpires', { time: time(keys.publish.expires_at) })}</p>
        </>
      ) : <p class="muted">…</p>}
      <button class="ghost" onClick={onDone}>{t('common.close')}</button>
    </div>
  );
}

/** Why this agent's own media left a call that goes on (the widget says the same). */
const LOST: Partial<Record<SessionEnd, 'call.lost.relay_failed' | 'call.lost.media_failed' | 'call.lost.connection_closed'>> = {
  relay_failed: 'call.lost.relay_failed',
  media_failed: 'call.lost.media_failed',
  connection_closed: 'call.lost.connection_closed',
};

/** The running call: joins the media node as host with the join info from the hub. */
/** `onView` shows a participant's page (P8). */
export function CallPanel({ hub, onView }: { hub: Hub; onView: (visitorId: string) => void }) {
  const { call, callJoin, callEnded } = hub.state;
  const [session, setSession] = useState<CallSession | null>(null);
  const [remotes, setRemotes] = useState<RemoteMedia[]>([]);
  const [layout, setLayout] = useState<Layout>('popup');
  const [confirm, setConfirm] = useState<null | { text: string; action: string; run: () => void }>(null);
  const [streaming, setStreaming] = useState(false);
  const [lost, setLost] = useState<SessionEnd | null>(null);
  const [, redraw] = useState(0);

  useEffect(() => {
    if (!callJoin) return;
    setLost(null);
    const s = new CallSession(callJoin, { onChange: setRemotes, onEnded: (reason) => { setSession(null); setLost(reason); } });
    setSession(s);
    s.publish({ microphone: true, camera: true }).then(() => redraw((n) => n + 1), (e) => console.warn('publish', e));
    return () => s.leave();
  }, [callJoin?.token]);

  if (!call && callEnded) return <CallEnded hub={hub} reason={callEnded} lost={lost} />;
  if (!call) return null;
  const joined = call.participants.filter((p) => p.state === 'joined');
  const settingUp = joined.length === 0;
  const name = (visitorId: string) => t('chats.visitor', { id: visitorId.slice(0, 6) });
  // The node knows visitors by seat ("guest-2"); the agent knows who sits there.
  const seated = (seat: string) => call.participants.find((p) => p.participant === seat);
  const label = (r: RemoteMedia) => { const p = seated(r.participant); return p ? name(p.visitor_id) : r.name; };
  const end = () => { hub.send({ type: 'call_end', call_id: call.call_id }); session?.end(); };
  const toggle = (label: string, on: boolean, f: () => Promise<unknown>) => (
    <button class={on ? 'on' : ''} aria-pressed={on} onClick={() => f().then(() => redraw((n) => n + 1), (e) => alert(`${label}: ${e}`))}>{label}</button>
  );
  const layoutButton = (l: Layout, name: string, glyph: string) => (
    <button class={layout === l ? 'on' : ''} aria-pressed={layout === l} aria-label={name} title={name} onClick={() => setLayout(l)}>{glyph}</button>
  );
  return (
    <div class={`call ${layout}`} data-testid="call-panel">
      {settingUp && (
        <div class="setting-up" data-testid="call-setting-up">
          <p>{t('call.settingUp', { who: call.participants.filter((p) => p.state === 'invited').map((p) => name(p.visitor_id)).join(', ') || t('call.nobody') })}</p>
          {call.participants.some((p) => p.state === 'declined') && <p class="muted">{t('call.declined', { who: call.participants.filter((p) => p.state === 'declined').map((p) => name(p.visitor_id)).join(', ') })}</p>}
          <button data-testid="cancel-call" onClick={end}>{t('common.cancel')}</button>
        </div>
      )}
      {lost && LOST[lost] && <p class="call-lost" role="alert" data-testid="call-lost">{t(LOST[lost]!)}</p>}
      <div class="tiles">
        {remotes.map((r) => (
          <>
            <Tile stream={r.main} camera={r.camera} label={label(r)} onView={seated(r.participant) && (() => onView(seated(r.participant)!.visitor_id))} onRemove={seated(r.participant) && (() => setConfirm({
              text: t('call.removeQuestion', { name: label(r) }), action: t('call.remove'),
              // The hub frees the seat on the media node too.
              run: () => hub.send({ type: 'call_remove', call_id: call.call_id, visitor_id: seated(r.participant)!.visitor_id }),
            }))} />
            {r.screen && <Tile stream={r.screen} camera label={t('call.screenOf', { name: label(r) })} />}
          </>
        ))}
        {session && <Tile stream={session.local} camera={session.cameraOn} label={t('call.you')} muted />}
      </div>
      <div class="bar">
        {session && toggle(t('call.mic'), session.microphoneOn, () => session.setMicrophone(!session.microphoneOn))}
        {session && toggle(t('call.camera'), session.cameraOn, () => session.setCamera(!session.cameraOn))}
        {session && toggle(t('call.screen'), session.screenOn, () => session.setScreen(!session.screenOn))}
        <label class="interaction">
          <input type="checkbox" data-testid="allow-interaction" checked={call.interaction_allowed}
            onChange={(e) => hub.send({ type: 'set_interaction', call_id: call.call_id, allowed: (e.target as HTMLInputElement).checked })} />
          {t('call.interaction')}
        </label>
        {layoutButton('popup', t('call.popup'), '▢')}
        {layoutButton('docked', t('call.docked'), '▮')}
        {layoutButton('full', t('call.full'), '⛶')}
        <button data-testid="stream-call" onClick={() => setStreaming(true)}>{t('call.stream')}</button>
        <button class="danger" data-testid="leave-call" onClick={() => setConfirm({ text: t('call.leaveQuestion'), action: t('call.leave'), run: end })}>{t('call.leave')}</button>
      </div>
      {confirm && <CallConfirm {...confirm} onDone={() => setConfirm(null)} />}
      {streaming && <StreamDialog hub={hub} callId={call.call_id} onDone={() => setStreaming(false)} />}
    </div>
  );
}
