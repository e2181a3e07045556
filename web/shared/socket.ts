// One WebSocket kept open: reconnects with exponential backoff and jitter (so a restarted
// hub is not hit by every client at once), and pings so the hub's heartbeat sweep keeps
// it. Used by the widget and the portal; the call session shares the ping interval.

/** How often clients ping; the hub closes sockets silent for 75 s. */
export const PING_EVERY_MS = 25_000;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 15_000;

/** The wait before reconnect attempt `attempt` (0, 1, 2…): doubling, capped, jittered. */
export function backoff(attempt: number): number {
  return Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
}

export interface SocketEvents {
  /** Connected (first time or again). */
  open(): void;
  message(data: string): void;
  /** Closed by the server or the network; return false to stay closed. */
  closed(ev: CloseEvent): boolean;
}

export class LiveSocket {
  private ws: WebSocket | null = null;
  private retries = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pinger: ReturnType<typeof setInterval> | undefined;
  private running = false;

  /** `url` is read at each (re)connect; `ping` is the frame sent every PING_EVERY_MS. */
  constructor(private url: () => string, private ping: string, private events: SocketEvents) {}

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Bytes sent but not yet on the network (backpressure for co-browsing). */
  get buffered(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  send(text: string): boolean {
    if (!this.open) return false;
    this.ws!.send(text);
    return true;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  /** Closes and stays closed until `start` (page hidden, signed out, unmounted). */
  stop(code = 1000, reason = ''): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.drop();
    const socket = this.ws;
    this.ws = null;
    socket?.close(code, reason);
  }

  private connect(): void {
    const socket = new WebSocket(this.url());
    this.ws = socket;
    socket.onopen = () => {
      this.retries = 0;
      this.pinger = setInterval(() => this.send(this.ping), PING_EVERY_MS);
      this.events.open();
    };
    socket.onmessage = (ev) => this.events.message(String(ev.data));
    socket.onclose = (ev) => {
      if (this.ws !== socket) return; // an old socket, replaced or stopped
      this.drop();
      this.ws = null;
      if (!this.events.closed(ev)) {
        this.running = false;
        return;
      }
      if (!this.running || this.timer !== undefined) return;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.running) this.connect();
      }, backoff(this.retries++));
    };
  }

  private drop(): void {
    clearInterval(this.pinger);
    this.pinger = undefined;
  }
}
