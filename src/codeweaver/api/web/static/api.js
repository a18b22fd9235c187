// The JSON API, called with the signed-in user's bearer token. Tokens live in this
// module's memory only (never in storage or cookies): a reload signs the user out.
const session = { access: null, refresh: null, timer: 0, refreshing: null, onSignOut: null };

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function call(path, method, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (session.access) headers.Authorization = "Bearer " + session.access;
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
}

async function failure(response) {
  let message = response.status + " " + response.statusText;
  try {
    const data = await response.json();
    if (data && data.error && data.error.message) message = data.error.message;
  } catch (_ignored) {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, message);
}

export async function api(path, { method = "GET", body, text = false } = {}) {
  let response = await call(path, method, body);
  if (response.status === 401 && session.refresh) {
    if (await refresh()) response = await call(path, method, body);
  }
  if (!response.ok) throw await failure(response);
  return text ? response.text() : response.json();
}

function keep(pair) {
  session.access = pair.access_token;
  session.refresh = pair.refresh_token;
  clearTimeout(session.timer);
  const seconds = Math.max(5, Number(pair.expires_in) - 10);
  session.timer = setTimeout(() => {
    refresh();
  }, seconds * 1000);
}

function forget() {
  clearTimeout(session.timer);
  session.access = null;
  session.refresh = null;
}

// One refresh at a time: refresh tokens rotate, and reusing one revokes the family.
export function refresh() {
  if (!session.refreshing) {
    session.refreshing = (async () => {
      const token = session.refresh;
      if (!token) return false;
      const response = await call("/auth/refresh", "POST", { refresh_token: token });
      if (!response.ok) {
        forget();
        if (session.onSignOut) session.onSignOut("Your session ended; sign in again.");
        return false;
      }
      keep(await response.json());
      return true;
    })().finally(() => {
      session.refreshing = null;
    });
  }
  return session.refreshing;
}

export async function signIn(username, password) {
  const response = await call("/auth/token", "POST", { username, password });
  if (!response.ok) throw await failure(response);
  keep(await response.json());
}

export async function signOut() {
  if (session.access) {
    try {
      await call("/auth/logout", "POST", { refresh_token: session.refresh });
    } finally {
      forget();
    }
  }
}

export function onSignOut(callback) {
  session.onSignOut = callback;
}

export function signedIn() {
  return session.access !== null;
}

// Whether permission patterns (with "*" parts) cover `needed`, as the server decides.
export function allows(permissions, needed) {
  const want = needed.split(":");
  return permissions.some((pattern) => {
    const have = pattern.split(":");
    return have.length === want.length && have.every((part, i) => part === "*" || part === want[i]);
  });
}
