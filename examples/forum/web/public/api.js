// Thin fetch wrapper for the forum JSON API. Every non-2xx answer becomes an
// ApiError carrying the server's { error: { code, message, details } } body.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** Field errors from a CLEAVE_VALIDATION_FAILED answer, or []. */
  get fields() {
    const fields = this.details && this.details.fields;
    return Array.isArray(fields) ? fields : [];
  }
}

/** Anything thrown (ApiError or not) as an ApiError, for uniform display. */
export function toApiError(err) {
  return err instanceof ApiError ? err : new ApiError(0, 'CLIENT_ERROR', String(err?.message ?? err));
}

async function request(method, path, body) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
  };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }

  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'NETWORK_ERROR', 'Could not reach the server.');
  }

  let data = null;
  if (res.status !== 204) {
    const text = await res.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
  }

  if (!res.ok) {
    const err = data && typeof data === 'object' ? data.error : null;
    const message = (err && typeof err.message === 'string' && err.message) || defaultMessage(res.status);
    throw new ApiError(res.status, (err && err.code) || `HTTP_${res.status}`, message, err && err.details);
  }
  return data;
}

function defaultMessage(status) {
  if (status === 401) return 'You need to log in.';
  if (status === 404) return 'Not found.';
  if (status === 429) return 'Too many attempts. Please wait a moment.';
  if (status >= 500) return 'The server had a problem. Please try again.';
  return `Request failed (${status}).`;
}

export const api = {
  signup: (username, password) => request('POST', '/api/signup', { username, password }),
  login: (username, password) => request('POST', '/api/login', { username, password }),
  logout: () => request('POST', '/api/logout'),
  me: () => request('GET', '/api/me'),
  posts: () => request('GET', '/api/posts'),
  post: (id) => request('GET', `/api/posts/${encodeURIComponent(id)}`),
  createPost: (text) => request('POST', '/api/posts', { text }),
  stats: () => request('GET', '/api/stats'),
};
