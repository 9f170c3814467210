// The registry's JSON endpoints, with the API's auth. With htpasswd the browser asks for a
// user and password itself on the first 401 (Basic); when that prompt is cancelled, or with
// token auth, the page's login form (views/login.js) keeps credentials for this tab
// (sessionStorage) and sends them as Basic, or trades them at the token realm for a bearer
// token per scope, as docker does. The page's Content-Security-Policy lets it talk to its own
// origin only, so a realm elsewhere cannot be reached (docs/ui.md).

const kCredentials = 'regfs.credentials';
const tokens = new Map(); // scope -> bearer token
let alsoAsk = []; // actions asked for with a repository's pull (askAlsoFor)

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Thrown when a request needs credentials the page does not have; `realm` says which kind.
export class LoginNeeded extends Error {
  constructor(message) {
    super(message);
    this.name = 'LoginNeeded';
  }
}

export function credentials() {
  const saved = sessionStorage.getItem(kCredentials);
  return saved ? JSON.parse(saved) : null;
}

export function setCredentials(user, password) {
  tokens.clear();
  if (user === null) sessionStorage.removeItem(kCredentials);
  else sessionStorage.setItem(kCredentials, JSON.stringify({ user, password }));
}

// With deletes on, a token asked for a repository's pull also asks for its delete, as docker
// asks for pull and push together: the realm grants what the user may, and the repository's
// pages learn from the server's answer (canDelete) whether to offer deletes.
export function askAlsoFor(actions) {
  alsoAsk = actions;
}

function widened(scope) {
  if (!alsoAsk.length || !scope) return scope;
  return scope.split(' ').map((s) => (/^repository:[^ ]+:pull$/.test(s) ? [s, ...alsoAsk].join(',') : s)).join(' ');
}

function basic({ user, password }) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  return 'Basic ' + btoa(String.fromCharCode(...bytes));
}

// `Bearer realm="…",service="…",scope="…"` -> {realm, service, scope}.
function parseChallenge(header) {
  const params = {};
  for (const m of header.matchAll(/(\w+)="([^"]*)"/g)) params[m[1]] = m[2];
  return params;
}

async function bearerToken(challenge) {
  const { realm, service } = parseChallenge(challenge);
  const scope = widened(parseChallenge(challenge).scope);
  if (tokens.has(scope)) return tokens.get(scope);
  const who = credentials();
  if (!who) throw new LoginNeeded('This registry uses token auth: sign in.');
  const url = new URL(realm, location.href);
  if (url.origin !== location.origin) {
    throw new ApiError(401, 'UNAUTHORIZED', `The token realm ${url.origin} is not this page's ` +
      'origin; the web UI can only ask a realm on its own origin (see docs/ui.md).');
  }
  if (service) url.searchParams.set('service', service);
  if (scope) url.searchParams.set('scope', scope);
  // Without credentials of the browser's own: a realm refusing these answers 401 with a Basic
  // challenge, and the browser would ask with its own prompt instead of this page.
  const r = await fetch(url, { headers: { Authorization: basic(who) }, credentials: 'omit' });
  if (!r.ok) throw new LoginNeeded('The token realm refused these credentials.');
  const body = await r.json();
  const token = body.token ?? body.access_token;
  tokens.set(scope, token);
  return token;
}

// fetch() with the page's credentials, answering one auth challenge.
export async function request(path, init = {}) {
  const headers = new Headers(init.headers ?? {});
  const who = credentials();
  if (who && !headers.has('Authorization')) headers.set('Authorization', basic(who));
  let r = await fetch(path, { ...init, headers, credentials: 'same-origin' });
  if (r.status !== 401) return r;
  const challenge = r.headers.get('WWW-Authenticate') ?? '';
  if (/^bearer/i.test(challenge)) {
    headers.set('Authorization', 'Bearer ' + await bearerToken(challenge));
    r = await fetch(path, { ...init, headers, credentials: 'same-origin' });
    if (r.status !== 401) return r;
    // Signed in, but the realm did not grant this: not a reason to sign in again.
    const again = parseChallenge(r.headers.get('WWW-Authenticate') ?? '');
    if (again.error === 'insufficient_scope') {
      throw new ApiError(401, 'DENIED', `${who.user} may not do this: the token realm did not ` +
        `grant ${again.scope ?? 'the access it needs'}.`);
    }
  }
  throw new LoginNeeded(who ? 'These credentials were refused.' : 'Sign in to this registry.');
}

async function failure(r) {
  let code = '';
  let message = `${r.status} ${r.statusText}`;
  try {
    const body = await r.json();
    const first = body.errors?.[0];
    if (first) {
      code = first.code ?? '';
      message = `${first.code}: ${first.message}${first.detail ? ' (' +
        (typeof first.detail === 'string' ? first.detail : JSON.stringify(first.detail)) + ')' : ''}`;
    }
  } catch {
    // not the API's error JSON: the status line says enough
  }
  return new ApiError(r.status, code, message);
}

export async function getJson(path) {
  const r = await request(path, { headers: { Accept: 'application/json' } });
  if (!r.ok) throw await failure(r);
  return r.json();
}

// A path inside an image: {json} for a directory (or a symlink, a device…), else {bytes, size}
// with the file's first `limit` bytes (a Range request) and its whole size.
export async function getFile(path, limit) {
  const r = await request(path, { headers: { Range: `bytes=0-${limit - 1}` } });
  if (r.status === 416) return { bytes: new ArrayBuffer(0), size: 0 };
  if (!r.ok) throw await failure(r);
  if ((r.headers.get('Content-Type') ?? '').startsWith('application/json')) return { json: await r.json() };
  const range = r.headers.get('Content-Range');
  const bytes = await r.arrayBuffer();
  return { bytes, size: range ? Number(range.split('/')[1]) : bytes.byteLength };
}

// A file's bytes as a Blob, with the page's credentials (for a download after a form login).
export async function getBlob(path) {
  const r = await request(path);
  if (!r.ok) throw await failure(r);
  return r.blob();
}

export async function remove(path) {
  const r = await request(path, { method: 'DELETE' });
  if (!r.ok) throw await failure(r);
}

// URL pieces: each segment of a repository name encoded, the slashes kept.
export function repoPath(name) {
  return String(name).split('/').map(encodeURIComponent).join('/');
}
