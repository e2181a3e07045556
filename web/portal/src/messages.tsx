// Rendering chat messages in the portal: text is text (never markup), links are http(s)
// only, images come only from the blob store, offers and products are cards.
import { useLayoutEffect, useRef } from 'preact/hooks';
import type { ChatMessage, MessageBody } from '../../shared/protocol';
import { safeHref, splitLinks } from '../../shared/text';
import { chatEvent } from '../../shared/i18n';
import { t, time } from './i18n';

export function Body({ body }: { body: MessageBody }) {
  switch (body.kind) {
    case 'event':
      return <span>{body.event ? chatEvent(body.event, t) : body.text}</span>;
    case 'text':
      return (
        <span>
          {splitLinks(body.text).map((s) =>
            s.href ? <a href={s.href} target="_blank" rel="noopener noreferrer">{s.text}</a> : s.text,
          )}
        </span>
      );
    case 'image':
      return <img class="chat-image" src={`/blobs/${encodeURIComponent(body.blob_id)}`} alt={t('msg.imageAlt')} />;
    case 'offer':
      return <Card title={body.title} lines={[body.text]} image={body.image_url} href={body.link_url} action={t('msg.seeOffer')} kind="offer" />;
    case 'product':
      return <Card title={body.name} lines={[body.brand, body.price]} image={body.image_url} href={body.url} action={t('msg.viewProduct')} kind="product" />;
  }
}

function Card(p: { title: string; lines: string[]; image: string | null; href: string; action: string; kind: string }) {
  const img = safeHref(p.image);
  return (
    <div class={`card ${p.kind}`} data-testid={`${p.kind}-card`}>
      {img && <img src={img} alt="" referrerpolicy="no-referrer" />}
      <b>{p.title}</b>
      {p.lines.filter(Boolean).map((l) => <div>{l}</div>)}
      <a href={safeHref(p.href)} target="_blank" rel="noopener noreferrer">{p.action}</a>
    </div>
  );
}

export function MessageList({ messages }: { messages: ChatMessage[] }) {
  // The list scrolls inside the conversation; it follows new messages while the agent
  // is at the bottom, and stays where they scrolled up to read otherwise.
  const list = useRef<HTMLOListElement>(null);
  const atBottom = useRef(true);
  // Where following last put the list. The scroll event of that move arrives a frame
  // later, maybe after more messages grew the list: it is not the agent scrolling up.
  const followedTo = useRef(0);
  useLayoutEffect(() => {
    const el = list.current;
    if (el && atBottom.current) {
      el.scrollTop = el.scrollHeight;
      followedTo.current = el.scrollTop;
    }
  }, [messages.length, messages[messages.length - 1]?.seq]);
  const onScroll = () => {
    const el = list.current;
    if (!el) return;
    const nearBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    atBottom.current = nearBottom || (atBottom.current && el.scrollTop >= followedTo.current - 1);
  };
  return (
    <ol class="messages" data-testid="messages" ref={list} onScroll={onScroll} aria-live="polite" aria-relevant="additions" aria-label={t('msg.list')}>
      {messages.map((m) => (
        <li class={`msg ${m.author.kind}`} data-seq={m.seq}>
          {m.author.kind === 'agent' && <span class="who">{m.author.name}</span>}
          <Body body={m.body} />
          <span class="meta">
            {time(m.at)}
            {m.page_url && (
              <>
                {' · from '}
                <a class="from-page" href={safeHref(m.page_url)} target="_blank" rel="noopener noreferrer">{shortUrl(m.page_url)}</a>
              </>
            )}
          </span>
        </li>
      ))}
    </ol>
  );
}

export function shortUrl(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}
