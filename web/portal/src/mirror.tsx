// P8: the visitor's page, live, as the widget records it (rrweb), rebuilt by /mirror/ in
// a frame of its own (`allow-same-origin` stays: rrweb's rebuild needs to reach into its
// nested frame, which an opaque origin would forbid; it talks to the portal by
// postMessage only). rrweb rebuilds the page without its scripts, inside a nested frame
// sandboxed without scripts, under the mirror's CSP (`script-src 'self'`: no inline
// script or handler could run even if one slipped through). The hub's chunks are
// joined here into batches of events and posted to the frame; a click in the frame comes
// back as a point the visitor sees on their page. What the mirror cannot show (the
// widget's `vitrine-limits` event with each snapshot: canvas, other sites' frames, a huge
// page) is said in the header, so an incomplete view never passes for the whole page.
import { useEffect, useRef, useState } from 'preact/hooks';
import { COBROWSE_REFRESH_MS, type CobrowseState } from '../../shared/protocol';
import type { Hub } from './live';
import { t } from './i18n';

/** The widget's count of what rrweb cannot mirror (web/widget/src/cobrowse-bundle.ts). */
interface Limits {
  elements: number;
  canvases: number;
  frames: number;
  too_large?: number;
}

/** Past this many elements, rebuilding and following the page gets slow. */
const LARGE_PAGE = 5000;

function notes(l: Limits): string[] {
  if (l.too_large) return [t('mirror.note.tooLarge', { mb: (l.too_large / 1048576).toFixed(1) })];
  const out = [];
  if (l.elements > LARGE_PAGE) out.push(t('mirror.note.large', { count: l.elements }));
  if (l.canvases) out.push(t('mirror.note.canvas', { count: l.canvases }));
  if (l.frames) out.push(t('mirror.note.frames', { count: l.frames }));
  return out;
}

type Event = { type?: number; data?: { tag?: string; payload?: unknown; width?: number; height?: number } };
/** rrweb's event types the portal reads: a page's size (meta), and the widget's own. */
const META_EVENT = 4;
const CUSTOM_EVENT = 5;

/** `origins`: the site's allowed origins, the only hosts the mirror loads the page's
 *  styles, images and fonts from (web/mirror/mirror.ts). */
export function Mirror({ hub, visitorId, origins, onClose }: { hub: Hub; visitorId: string; origins: string[]; onClose: () => void }) {
  const frame = useRef<HTMLIFrameElement>(null);
  const [state, setState] = useState<CobrowseState | 'starting'>('starting');
  const [limits, setLimits] = useState<Limits | null>(null);
  const [viewport, setViewport] = useState('');
  useEffect(() => {
    let ready = false;
    let batch = '';
    let expected = 0;
    const waiting: unknown[][] = [];
    let refresh = 0;
    const post = (events: unknown[]) => {
      if (!ready) return void waiting.push(events);
      frame.current?.contentWindow?.postMessage({ kind: 'events', events }, '*');
    };
    const fromFrame = (e: MessageEvent) => {
      if (e.source !== frame.current?.contentWindow) return;
      const m = e.data as { kind?: string; x?: unknown; y?: unknown };
      if (m?.kind === 'ready') {
        ready = true;
        frame.current?.contentWindow?.postMessage({ kind: 'sources', origins }, '*');
        waiting.splice(0).forEach(post);
      } else if (m?.kind === 'point' && typeof m.x === 'number' && typeof m.y === 'number') {
        const clamp = (v: number) => Math.min(1, Math.max(0, v));
        hub.send({ type: 'cobrowse_point', visitor_id: visitorId, x: clamp(m.x), y: clamp(m.y) });
      }
    };
    addEventListener('message', fromFrame);
    const off = hub.onCobrowse(visitorId, (f) => {
      if (f.type === 'cobrowse') {
        setState(f.state);
        // Said no, stopped, or left: asking again is the agent's choice (View page again).
        if (f.state === 'refused' || f.state === 'stopped' || f.state === 'gone') clearInterval(refresh);
        if (f.state === 'degraded') batch = '';
        return;
      }
      // A chunk went missing (the stream was cut): that batch is lost, the next one counts.
      if (expected && f.seq !== expected) batch = '';
      expected = f.seq + 1;
      batch += f.chunk;
      if (!f.last) return;
      let events: unknown[];
      try {
        events = JSON.parse(batch) as unknown[];
      } catch {
        events = []; // a batch whose start was dropped
      }
      batch = '';
      for (const e of events as Event[]) {
        if (e?.type === CUSTOM_EVENT && e.data?.tag === 'vitrine-limits') setLimits(e.data.payload as Limits);
        if (e?.type === META_EVENT) setViewport(`${e.data?.width} × ${e.data?.height}`);
      }
      if (events.length) post(events);
    });
    const start = () => hub.send({ type: 'cobrowse_start', visitor_id: visitorId });
    start();
    // The hub's sessions are soft state: repeating the start keeps ours (a rebuilt hub
    // gets it back; an existing one only answers with its state).
    refresh = window.setInterval(start, COBROWSE_REFRESH_MS);
    return () => {
      clearInterval(refresh);
      off();
      removeEventListener('message', fromFrame);
      hub.send({ type: 'cobrowse_stop', visitor_id: visitorId });
    };
  }, [visitorId]);

  return (
    <div class="mirror" role="dialog" aria-label={t('mirror.title')} data-testid="mirror"
      onKeyDown={(e) => e.key === 'Escape' && (e.preventDefault(), onClose())}>
      <header>
        <b>{t('mirror.title')}</b>
        <span class={`mirror-state ${state}`} data-testid="mirror-state" data-state={state}>{t(`mirror.state.${state}`)}</span>
        {viewport && <span class="muted" data-testid="mirror-viewport" title={t('mirror.viewport')}>{viewport}</span>}
        <span class="muted">{t('mirror.pointHint')}</span>
        <button type="button" onClick={onClose} data-testid="mirror-close" autoFocus>{t('mirror.close')}</button>
      </header>
      {limits && notes(limits).length > 0 && (
        <ul class="mirror-notes" data-testid="mirror-notes" role="status">
          {notes(limits).map((n) => <li key={n}>{n}</li>)}
        </ul>
      )}
      <iframe ref={frame} sandbox="allow-scripts allow-same-origin" src="/mirror/" title={t('mirror.title')} data-testid="mirror-frame" />
    </div>
  );
}
