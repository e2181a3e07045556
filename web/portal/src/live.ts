// The live visitor list: a WebSocket to the site's hub, kept open with backoff, folding
// snapshots and batched changes into a map. Server timestamps are converted with the
// measured clock offset so "time on page" ticks correctly even if clocks disagree.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { AgentAvailability, AgentFrame, AgentServerFrame, LiveVisitor } from '../../shared/protocol';
import { CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED } from '../../shared/protocol';

export type Connection = 'connecting' | 'live' | 'reconnecting' | 'signed-out';

export interface LiveState {
  visitors: Map<string, LiveVisitor>;
  availability: AgentAvailability | null;
  connection: Connection;
  /** server clock minus local clock, in ms */
  clockOffset: number;
}

export function useLiveList(site: string | null, wantAvailable: boolean) {
  const [state, setState] = useState<LiveState>({ visitors: new Map(), availability: null, connection: 'connecting', clockOffset: 0 });
  const ws = useRef<WebSocket | null>(null);
  const available = useRef(wantAvailable);
  available.current = wantAvailable;

  useEffect(() => {
    if (!site) return;
    let stopped = false;
    let retries = 0;
    let timer: number | undefined;
    let pinger: number | undefined;

    const connect = () => {
      const proto = location.protocol === 'https:' ? 'wss' : 'ws';
      const socket = new WebSocket(
        `${proto}://${location.host}/ws/agent?site=${encodeURIComponent(site)}&available=${available.current ? 1 : 0}`,
      );
      ws.current = socket;
      socket.onopen = () => {
        retries = 0;
        pinger = window.setInterval(() => send({ type: 'ping' }), 25_000);
      };
      socket.onmessage = (ev) => apply(JSON.parse(String(ev.data)) as AgentServerFrame);
      socket.onclose = (ev) => {
        window.clearInterval(pinger);
        if (stopped) return;
        if (ev.code === CLOSE_UNAUTHORIZED || ev.code === CLOSE_FORBIDDEN) {
          setState((s) => ({ ...s, connection: 'signed-out' }));
          return;
        }
        setState((s) => ({ ...s, connection: 'reconnecting' }));
        const delay = Math.min(15_000, 300 * 2 ** retries++) * (0.5 + Math.random() / 2);
        timer = window.setTimeout(connect, delay);
      };
    };

    const apply = (frame: AgentServerFrame) => {
      setState((s) => {
        switch (frame.type) {
          case 'snapshot':
            return {
              visitors: new Map(frame.visitors.map((v) => [v.visitor_id, v])),
              availability: frame.availability,
              connection: 'live',
              clockOffset: frame.server_now - Date.now(),
            };
          case 'visitors_changed': {
            const visitors = new Map(s.visitors);
            frame.upserts.forEach((v) => visitors.set(v.visitor_id, v));
            frame.removed.forEach((id) => visitors.delete(id));
            return { ...s, visitors, clockOffset: frame.server_now - Date.now() };
          }
          case 'availability':
            return { ...s, availability: frame };
          case 'error':
            console.warn('hub error', frame.code, frame.message);
            return s;
          default:
            return s;
        }
      });
    };

    setState({ visitors: new Map(), availability: null, connection: 'connecting', clockOffset: 0 });
    connect();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      window.clearInterval(pinger);
      ws.current?.close(1000);
    };
  }, [site]);

  const send = (frame: AgentFrame) => {
    if (ws.current?.readyState === WebSocket.OPEN) ws.current.send(JSON.stringify(frame));
  };

  useEffect(() => send({ type: 'set_availability', available: wantAvailable }), [wantAvailable]);

  return state;
}

/** Re-renders every second so durations tick. */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(t);
  }, []);
  return now;
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}
