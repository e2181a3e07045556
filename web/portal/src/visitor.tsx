// What the portal knows of one visitor: where they are now, their visits and pages, and
// the call buttons. One panel, shown beside the live list and beside a conversation.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { LiveVisitor, MessageBody, Site, VisitorDetails } from '../../shared/protocol';
import { safeHref } from '../../shared/text';
import { api } from './api';
import { CallActions } from './call';
import { ContactCard } from './contact';
import { Mirror } from './mirror';
import { date, dateTime, t } from './i18n';
import type { Hub } from './live';

export function place(v: LiveVisitor): string {
  const parts = [v.location.city, v.location.country].filter(Boolean);
  return parts.length ? parts.join(', ') : t('details.unknownPlace');
}

/** `live` is the visitor in the hub's list (absent once they left the site); `children`
 *  go under the header (the visitors page puts "start chat" there); `onSend` writes in the
 *  conversation beside it (recommendations from the contact card). */
export function VisitorPanel({ site: { site_key: site, allowed_origins: origins }, visitorId, live, hub, me, label, testId, onClose, onSend, children }: {
  site: Site;
  me: { agent_id: string; name: string };
  onSend?: (body: MessageBody) => void;
  visitorId: string;
  live: LiveVisitor | undefined;
  hub: Hub;
  label: string;
  testId: string;
  onClose: () => void;
  children?: ComponentChildren;
}) {
  const [details, setDetails] = useState<VisitorDetails | null>(null);
  const [error, setError] = useState('');
  // Reload when the visitor opens another page, so the history stays current.
  useEffect(() => {
    let cancelled = false;
    api.visitor(site, visitorId)
      .then((d) => !cancelled && (setDetails(d), setError('')))
      .catch((e) => !cancelled && setError(e.message));
    return () => void (cancelled = true);
  }, [site, visitorId, live?.page_views_this_visit, live?.visit_count]);
  const blocked = hub.state.blocked.has(visitorId);
  const page = live && safeHref(live.page.url);
  const [viewing, setViewing] = useState(false);

  return (
    <aside class="details" aria-label={label} data-testid={testId}>
      <div class="details-head">
        <h2>{t('details.visitor')} <span class="id">{visitorId.slice(0, 8)}</span></h2>
        <button class="ghost" onClick={onClose} aria-label={t('details.close', { what: label })}>✕</button>
      </div>
      <p class="muted" data-testid="visitor-status">{live ? `${place(live)} · ${t(`status.${live.status}`)}` : t('details.gone')}</p>
      {live && (
        <p class="now" data-testid="visitor-page">
          {t('details.nowOn')} {page ? <a href={page} target="_blank" rel="noopener noreferrer">{live.page.title || live.page.url}</a> : (live.page.title || live.page.url)}
        </p>
      )}
      {blocked ? <p class="notice">{t('details.blocked')}</p> : children}
      {live && !blocked && <CallActions hub={hub} visitor={live} />}
      {live && live.status !== 'offline' && (
        <button type="button" class="ghost" data-testid="view-page" onClick={() => setViewing(true)}>{t('mirror.view')}</button>
      )}
      {viewing && <Mirror hub={hub} visitorId={visitorId} origins={origins} onClose={() => setViewing(false)} />}
      <ContactCard site={site} visitorId={visitorId} identified={live?.contact?.contact_id ?? null} refresh={live?.page_views_this_visit ?? 0} me={me} onSend={onSend} />
      {error && <p class="error">{error}</p>}
      {details && (
        <>
          <div class="stats">
            <div class="stat"><b data-testid="visit-count">{details.visit_count}</b>{t('details.visits', { count: details.visit_count })}</div>
            <div class="stat"><b data-testid="page-view-count">{details.page_view_count}</b>{t('details.pageViews', { count: details.page_view_count })}</div>
            <div class="stat"><b>{date(details.first_seen_at)}</b>{t('details.firstSeen')}</div>
          </div>
          <h3>{t('details.history')}</h3>
          <ol class="history" data-testid="history">
            {details.page_views.map((p) => (
              <li>
                <a href={safeHref(p.url)} target="_blank" rel="noopener noreferrer">{p.title || p.url}</a>
                <br />
                <time>{dateTime(p.at)}</time>
              </li>
            ))}
          </ol>
        </>
      )}
    </aside>
  );
}
