// The portal's calls to the agent API (vitrine-lambdas). Every request and answer type is
// generated from the Rust types (core/src/protocol/http.rs), like the WebSocket frames.
import type {
  AgentProfile,
  AgentUpdate,
  CannedResponse,
  ConversationQuery,
  ErrorBody,
  FoundConversation,
  Gallery,
  Imported,
  Invited,
  InviteInput,
  LoginAnswer,
  LoginRequest,
  Me,
  MessagesPage,
  Offer,
  Product,
  ProductQuery,
  Session,
  Site,
  SiteInput,
  Uploaded,
  VisitorDetails, ChangePassword,
  ContactCard, ContactEdit, IdentityInput, Note, SiteIdentity, Task, TaskInput, VisitorContact,
  MailSettingsInput, MailSettingsView, ApiKey, ApiKeyInput, NewApiKey, AgentRef,
  AcceptInvitation, ForgotPassword, InvitationView, LinkToken, PendingInvitation, ResetPassword,
  TranscriptConfirmation,
} from '../../shared/protocol';

export type { FoundConversation, Gallery, Me, SiteInput };

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
    const err = (data as ErrorBody | null)?.error ?? { code: 'http_error', message: `HTTP ${res.status}` };
    throw new ApiError(res.status, err.code, err.message);
  }
  return data as T;
}

const q = (params: object) =>
  new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [k, String(v)]),
  ).toString();

const contactPath = (site: string, id: string) =>
  `/api/sites/${encodeURIComponent(site)}/contacts/${encodeURIComponent(id)}`;

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
  session: () => call<Session>('GET', '/api/session'),
  login: (email: string, password: string, account_id?: string) =>
    call<LoginAnswer>('POST', '/api/login', { email, password, account_id } satisfies LoginRequest),
  logout: () => call<void>('POST', '/api/logout', {}),
  changePassword: (current: string, next: string) =>
    call<void>('POST', '/api/me/password', { current, new: next } satisfies ChangePassword),
  forgotPassword: (email: string) => call<void>('POST', '/api/password/forgot', { email } satisfies ForgotPassword),
  resetPassword: (token: string, password: string) =>
    call<void>('POST', '/api/password/reset', { token, password } satisfies ResetPassword),
  transcript: (token: string) => call<TranscriptConfirmation>('POST', '/api/transcript', { token } satisfies LinkToken),
  confirmTranscript: (token: string) => call<void>('POST', '/api/transcript/confirm', { token } satisfies LinkToken),
  invitation: (token: string) => call<InvitationView>('POST', '/api/invitation', { token } satisfies LinkToken),
  acceptInvitation: (token: string, password: string) =>
    call<LoginAnswer>('POST', '/api/invitation/accept', { token, password } satisfies AcceptInvitation),
  visitor: (site: string, visitorId: string) =>
    call<VisitorDetails>('GET', `/api/sites/${encodeURIComponent(site)}/visitors/${encodeURIComponent(visitorId)}`),
  visitorContact: (site: string, visitorId: string) =>
    call<VisitorContact>('GET', `/api/sites/${encodeURIComponent(site)}/visitors/${encodeURIComponent(visitorId)}/contact`),
  contacts: {
    createForVisitor: (site: string, visitorId: string, edit: ContactEdit) =>
      call<ContactCard>('POST', `/api/sites/${encodeURIComponent(site)}/visitors/${encodeURIComponent(visitorId)}/contact`, edit),
    edit: (site: string, id: string, edit: ContactEdit) => call<ContactCard>('PUT', contactPath(site, id), edit),
    tags: (site: string, id: string, tags: string[]) => call<string[]>('PUT', `${contactPath(site, id)}/tags`, { tags }),
    siteTags: (site: string) => call<string[]>('GET', `/api/sites/${encodeURIComponent(site)}/tags`),
    siteAgents: (site: string) => call<AgentRef[]>('GET', `/api/sites/${encodeURIComponent(site)}/agents`),
    note: (site: string, id: string, text: string) => call<Note>('POST', `${contactPath(site, id)}/notes`, { text }),
    addTask: (site: string, id: string, task: TaskInput) => call<Task>('POST', `${contactPath(site, id)}/tasks`, task),
    task: (site: string, id: string, taskId: string, done: boolean) =>
      call<Task>('PUT', `${contactPath(site, id)}/tasks/${encodeURIComponent(taskId)}`, { done }),
  },
  myTasks: () => call<Task[]>('GET', '/api/tasks'),
  conversations: (params: ConversationQuery) => call<FoundConversation[]>('GET', `/api/conversations?${q(params)}`),
  messages: (site: string, conversationId: string, after = 0) =>
    call<MessagesPage>(
      'GET',
      `/api/sites/${encodeURIComponent(site)}/conversations/${encodeURIComponent(conversationId)}/messages?after=${after}`,
    ),
  upload: (file: File) => call<Uploaded>('POST', '/api/uploads', file, file.type || 'application/octet-stream'),
  products: (params: Partial<ProductQuery>) => call<Gallery>('GET', `/api/products?${q(params)}`),
  importProducts: (text: string) => call<Imported>('POST', '/api/products/import', text, 'text/plain'),
  offers: collection<Offer>('/api/offers'),
  canned: collection<CannedResponse>('/api/canned'),
  productsAdmin: collection<Product>('/api/products'),
  sites: {
    list: () => call<Site[]>('GET', '/api/admin/sites'),
    create: (s: SiteInput) => call<Site>('POST', '/api/admin/sites', s),
    update: (key: string, s: SiteInput) => call<Site>('PUT', `/api/admin/sites/${encodeURIComponent(key)}`, s),
    remove: (key: string) => call<void>('DELETE', `/api/admin/sites/${encodeURIComponent(key)}`),
    identity: (key: string) => call<SiteIdentity>('GET', `/api/admin/sites/${encodeURIComponent(key)}/identity`),
    setIdentity: (key: string, input: IdentityInput) =>
      call<SiteIdentity>('POST', `/api/admin/sites/${encodeURIComponent(key)}/identity`, input),
  },
  agents: {
    list: () => call<AgentProfile[]>('GET', '/api/admin/agents'),
    invite: (a: InviteInput) => call<Invited>('POST', '/api/admin/agents', a),
    pending: () => call<PendingInvitation[]>('GET', '/api/admin/invitations'),
    withdraw: (email: string) => call<void>('DELETE', `/api/admin/invitations/${encodeURIComponent(email)}`),
    update: (id: string, a: AgentUpdate) => call<AgentProfile>('PUT', `/api/admin/agents/${encodeURIComponent(id)}`, a),
    remove: (id: string) => call<void>('DELETE', `/api/admin/agents/${encodeURIComponent(id)}`),
  },
  apiKeys: {
    list: () => call<ApiKey[]>('GET', '/api/admin/api-keys'),
    create: (k: ApiKeyInput) => call<NewApiKey>('POST', '/api/admin/api-keys', k),
    revoke: (id: string) => call<void>('DELETE', `/api/admin/api-keys/${encodeURIComponent(id)}`),
  },
  mail: {
    get: () => call<MailSettingsView>('GET', '/api/admin/mail'),
    put: (m: MailSettingsInput) => call<MailSettingsView>('PUT', '/api/admin/mail', m),
    remove: () => call<void>('DELETE', '/api/admin/mail'),
    test: (to: string) => call<void>('POST', '/api/admin/mail/test', { to }),
  },
};
