// Merging chat messages from live frames, resumes and HTTP history: one list per
// conversation, by seq, no duplicates, in order.
import type { ChatMessage } from './protocol';

export function mergeMessages(list: readonly ChatMessage[] | undefined, add: readonly ChatMessage[]): ChatMessage[] {
  const bySeq = new Map((list ?? []).map((m) => [m.seq, m]));
  add.forEach((m) => bySeq.set(m.seq, m));
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}
