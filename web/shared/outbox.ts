// Messages sent but not yet confirmed stored by the hub (B2), for the widget and the
// portal alike: each keeps its client_id, so the hub recognises a resend and never stores
// it twice. A message leaves the outbox only on its ack (or when the hub delivers it).
// Unconfirmed messages are resent after every reconnect, soon after a `not_saved` or
// `rate_limited`, and every few seconds while any remain; they survive a page load.

const RESEND_AFTER_MS = 3_000;

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

export class Outbox<T extends { client_id: string }> {
  private items: T[];
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** `send` returns false when it could not send now (not connected). */
  constructor(private persist: Persist<T>, private send: (item: T) => boolean, private changed: () => void = () => {}) {
    this.items = persist.load();
  }

  get pending(): readonly T[] {
    return this.items;
  }

  add(item: T): void {
    this.items = [...this.items, item];
    this.update();
    this.send(item);
    this.schedule();
  }

  /** The hub stored it (ack, or the message itself came back). */
  confirm(clientId: string): void {
    if (!this.items.some((i) => i.client_id === clientId)) return;
    this.items = this.items.filter((i) => i.client_id !== clientId);
    this.update();
  }

  /** Sends everything unconfirmed again (after a reconnect). */
  flush(): void {
    this.items.forEach((i) => this.send(i));
    this.schedule();
  }

  /** The hub could not take some now (not saved, rate limited): try again soon. */
  retry(): void {
    this.schedule();
  }

  clear(): void {
    this.items = [];
    this.update();
  }

  private update(): void {
    this.persist.save(this.items);
    this.changed();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.items.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, RESEND_AFTER_MS);
  }
}
