// P8: the visitor's page, live, as the widget records it (rrweb), rebuilt by /mirror/ in
// a frame of its own: rrweb rebuilds the page without its scripts, inside a nested frame
// sandboxed without scripts, under the mirror's CSP (`script-src 'self'`: no inline
// script or handler could run even if one slipped through). The hub's chunks are
// joined here into batches of events and posted to the frame; a click in the frame comes
// back as a point the visitor sees on their page.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { CobrowseState } from '../../shared/protocol';
import type { Hub } from './live';
import { t } from './i18n';

export function Mirror({ hub, visitorId, onClose }: { hub: Hub; visitorId: string; onClose: () => void }) {
  const frame = useRef<HTMLIFrameElement>(null);
  const [state, setState] = useState<CobrowseState | 'starting'>('starting');
  useEffect(() => {
    let ready = false;
    let batch = '';
    let expected = 0;
    const waiting: unknown[][] = [];
    const post = (events: unknown[]) => {
      if (!ready) return void waiting.push(events);
      frame.current?.contentWindow?.postMessage({ kind: 'events', events }, '*');
    };
    const fromFrame = (e: MessageEvent) => {
      if (e.source !== frame.current?.contentWindow) return;
      const m = e.data as { kind?: string; x?: unknown; y?: unknown };
      if (m?.kind === 'ready') {
        ready = true;
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
        if (f.state === 'degraded') batch = '';
        return;
      }
      // A chunk went missing (the stream was cut): that batch is lost, the next one counts.
      if (expected && f.seq !== expected) batch = '';
      expected = f.seq + 1;
      batch += f.chunk;
      if (!f.last) return;
      try {
        post(JSON.parse(batch) as unknown[]);
      } catch {
        /* a batch whose start was dropped */
      }
      batch = '';
    });
    hub.send({ type: 'cobrowse_start', visitor_id: visitorId });
    return () => {
      off();
      removeEventListener('message', fromFrame);
      hub.send({ type: 'cobrowse_stop', visitor_id: visitorId });
    };
  }, [visitorId]);

  return (
    <div class="mirror" role="dialog" aria-label={t('mirror.title')} data-testid="mirror"
      onKeyDown={(e) => e.key === 'Escape' && onClose()}>
      <header>
        <b>{t('mirror.title')}</b>
        <span class={`mirror-state ${state}`} data-testid="mirror-state" data-state={state}>{t(`mirror.state.${state}`)}</span>
        <span class="muted">{t('mirror.pointHint')}</span>
        <button type="button" onClick={onClose} data-testid="mirror-close" autoFocus>{t('mirror.close')}</button>
      </header>
      <iframe ref={frame} sandbox="allow-scripts allow-same-origin" src="/mirror/" title={t('mirror.title')} data-testid="mirror-frame" />
    </div>
  );
}
