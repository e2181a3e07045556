// Messages sent but not yet confirmed stored by the hub (B2), for the widget and the
// portal alike: each keeps its client_id, so the hub recognises a resend and never stores
// it twice. A message leaves the outbox on its ack (or when the hub delivers it).
//
// One message is in flight at a time, the oldest: the next goes when it is confirmed, so
// messages are stored in the order they were written even when the hub refuses some for
// a while (`rate_limited`, `not_saved`) and a retry comes later. The oldest is resent after
// every reconnect, soon after such an error, and every few seconds until confirmed (a
// frame dropped by the rate limit gets no answer). A message the hub refuses for good (an
// error naming it: conversation ended, visitor blocked…) stays in the outbox marked
// `refused` with the reason, so its text is not lost, until the writer discards it. The
// outbox survives a page load.

import type { ErrorFrame } from './protocol';

const RESEND_AFTER_MS = 3_000;
const RETRY_SOON_MS = 1_000;

export interface Persist<T> {
  load(): T[];
  save(items: T[]): void;
}

/** localStorage under `key` (memory only if storage is blocked). */
export function stored<T>(key: string): Persist<T> {
  return {
    load() {
      try {
        const items = JSON.parse(localStorage.getItem(key) || '[]');
        return Array.isArray(items) ? items : [];
      } catch {
        return [];
      }
    },
    save(items) {
      try {
        if (items.length) localStorage.setItem(key, JSON.stringify(items));
        else localStorage.removeItem(key);
      } catch {
        /* storage blocked: memory only */
      }
    },
  };
}

export interface Outgoing {
  client_id: string;
  /** Why the hub refused it for good; absent while it is still being sent. */
  refused?: string;
}

/** Errors after which the same message may succeed later. */
const TRANSIENT: ReadonlySet<ErrorFrame['code']> = new Set(['rate_limited', 'not_saved']);

export class Outbox<T extends Outgoing> {
  private items: T[];
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** `send` returns false when it could not send now (not connected). */
  constructor(private persist: Persist<T>, private send: (item: T) => boolean, private changed: () => void = () => {}) {
    this.items = persist.load();
  }

  /** Everything not confirmed yet, in order, refused ones included. */
  get pending(): readonly T[] {
    return this.items;
  }

  add(item: T): void {
    this.items = [...this.items, item];
    this.update();
    if (this.head() === item) this.sendHead();
  }

  /** The hub stored it (ack, or the message itself came back): the next one goes. */
  confirm(clientId: string): void {
    if (!this.items.some((i) => i.client_id === clientId)) return;
    const wasHead = this.head()?.client_id === clientId;
    this.items = this.items.filter((i) => i.client_id !== clientId);
    this.update();
    if (wasHead) this.sendHead();
  }

  /** The connection is (back) up: send the oldest unconfirmed message now. */
  flush(): void {
    this.sendHead();
  }

  /** The hub answered with an error: retry soon, or mark the message it names refused. */
  failed(error: ErrorFrame): void {
    if (TRANSIENT.has(error.code)) return this.schedule(RETRY_SOON_MS);
    const refused = this.items.find((i) => i.client_id === error.client_id && !i.refused);
    if (!refused) return;
    const wasHead = this.head() === refused;
    this.items = this.items.map((i) => (i === refused ? { ...i, refused: error.message } : i));
    this.update();
    if (wasHead) this.sendHead();
  }

  /** The writer dropped a refused message. */
  discard(clientId: string): void {
    this.items = this.items.filter((i) => i.client_id !== clientId);
    this.update();
  }

  clear(): void {
    this.items = [];
    this.update();
  }

  private head(): T | undefined {
    return this.items.find((i) => !i.refused);
  }

  private sendHead(): void {
    const head = this.head();
    if (head) this.send(head);
    this.schedule(RESEND_AFTER_MS);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.head()) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sendHead();
    }, ms);
  }

  private update(): void {
    this.persist.save(this.items);
    this.changed();
  }
}
