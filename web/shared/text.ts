// Message text helpers shared by the widget and the portal. Message text is always
// rendered as text; only http(s) URLs ever become links.

/** The URL if it is an absolute http(s) URL, else undefined (never javascript:, data:, …). */
export function safeHref(url: string | null | undefined): string | undefined {
  return url && /^https?:\/\/[^\s/]/i.test(url) ? url : undefined;
}

export interface Segment {
  text: string;
  href?: string;
}

/** Splits text into plain runs and http(s) links, for rendering without any HTML parsing. */
export function splitLinks(text: string): Segment[] {
  const out: Segment[] = [];
  const re = /https?:\/\/[^\s<>"']+/gi;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    // Trailing punctuation usually ends the sentence, not the URL.
    const url = m[0].replace(/[.,;:!?)\]]+$/, '');
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    out.push({ text: url, href: safeHref(url) });
    last = m.index + url.length;
    re.lastIndex = last;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

/** A random client-side ID for messages (resends carry the same one). */
export function clientId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return 'm' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
