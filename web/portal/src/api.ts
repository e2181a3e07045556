// The portal's calls to the agent API (vitrine-lambdas). Types come from the Rust code.
import type {
  AgentProfile,
  CannedResponse,
  ChatMessage,
  ConversationStatus,
  ConversationSummary,
  Offer,
  Product,
  Role,
  Site,
  VisitorDetails,
} from '../../shared/protocol';

export interface Me {
  agent: AgentProfile;
  sites: Site[];
}

export type FoundConversation = ConversationSummary & { site_key: string; site_name: string };

export interface Gallery {
  products: Product[];
  brands: string[];
  categories: string[];
}

export interface SiteInput {
  name: string;
  active: boolean;
  allowed_origins: string[];
  consultants: string[];
}

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

async function call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': contentType },
    body: body === undefined ? undefined : contentType === 'application/json' ? JSON.stringify(body) : (body as BodyInit),
  });
  if (res.status === 204) return undefined as T;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = data?.error ?? { code: 'http_error', message: `HTTP ${res.status}` };
    throw new ApiError(res.status, err.code, err.message);
  }
  return data as T;
}

const q = (params: Record<string, string | undefined>) =>
  new URLSearchParams(Object.entries(params).filter(([, v]) => v) as [string, string][]).toString();

/** CRUD for the catalogue-like collections admins manage. */
function collection<T>(path: string) {
  return {
    list: () => call<T[]>('GET', path),
    create: (item: T) => call<T>('POST', path, item),
    update: (id: string, item: T) => call<T>('PUT', `${path}/${encodeURIComponent(id)}`, item),
    remove: (id: string) => call<void>('DELETE', `${path}/${encodeURIComponent(id)}`),
  };
}

export const api = {
  me: () => call<Me>('GET', '/api/me'),
  login: (email: string, password: string) => call<AgentProfile>('POST', '/api/login', { email, password }),
  logout: () => call<void>('POST', '/api/logout', {}),
  visitor: (site: string, visitorId: string) =>
    call<VisitorDetails>('GET', `/api/sites/${encodeURIComponent(site)}/visitors/${encodeURIComponent(visitorId)}`),
  conversations: (params: { site?: string; status?: ConversationStatus; q?: string; visitor?: string }) =>
    call<FoundConversation[]>('GET', `/api/conversations?${q(params)}`),
  messages: (site: string, conversationId: string, after = 0) =>
    call<{ conversation: ConversationSummary; messages: ChatMessage[] }>(
      'GET',
      `/api/sites/${encodeURIComponent(site)}/conversations/${encodeURIComponent(conversationId)}/messages?after=${after}`,
    ),
  upload: (file: File) => call<{ blob_id: string; url: string }>('POST', '/api/uploads', file, file.type || 'application/octet-stream'),
  products: (params: { q?: string; brand?: string; category?: string }) => call<Gallery>('GET', `/api/products?${q(params)}`),
  importProducts: (text: string) => call<{ imported: number }>('POST', '/api/products/import', text, 'text/plain'),
  offers: collection<Offer>('/api/offers'),
  canned: collection<CannedResponse>('/api/canned'),
  productsAdmin: collection<Product>('/api/products'),
  sites: {
    list: () => call<Site[]>('GET', '/api/admin/sites'),
    create: (s: SiteInput) => call<Site>('POST', '/api/admin/sites', s),
    update: (key: string, s: SiteInput) => call<Site>('PUT', `/api/admin/sites/${encodeURIComponent(key)}`, s),
    remove: (key: string) => call<void>('DELETE', `/api/admin/sites/${encodeURIComponent(key)}`),
  },
  agents: {
    list: () => call<AgentProfile[]>('GET', '/api/admin/agents'),
    invite: (a: { email: string; name: string; role: Role }) => call<{ agent: AgentProfile; password: string }>('POST', '/api/admin/agents', a),
    update: (id: string, a: { name: string; role: Role }) => call<AgentProfile>('PUT', `/api/admin/agents/${encodeURIComponent(id)}`, a),
    remove: (id: string) => call<void>('DELETE', `/api/admin/agents/${encodeURIComponent(id)}`),
  },
};
