// The portal's calls to the agent API (vitrine-lambdas). Types come from the Rust code.
import type { AgentProfile, Site, VisitorDetails } from '../../shared/protocol';

export interface Me {
  agent: AgentProfile;
  sites: Site[];
}

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = data?.error ?? { code: 'http_error', message: `HTTP ${res.status}` };
    throw new ApiError(res.status, err.code, err.message);
  }
  return data as T;
}

export const api = {
  me: () => call<Me>('GET', '/api/me'),
  login: (email: string, password: string) => call<AgentProfile>('POST', '/api/login', { email, password }),
  logout: () => call<void>('POST', '/api/logout', {}),
  visitor: (site: string, visitorId: string) =>
    call<VisitorDetails>('GET', `/api/sites/${encodeURIComponent(site)}/visitors/${encodeURIComponent(visitorId)}`),
};
