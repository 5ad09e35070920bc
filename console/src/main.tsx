/**
 * The web console's shell: the login, the navigation and the hash routes. The admin token is
 * typed once into the login form, posted to /console/session and forgotten: the server answers
 * with an HttpOnly session cookie, so the token is never in a URL, in localStorage or readable
 * by page scripts afterwards (src/http/session.ts says why this is safe against CSRF).
 */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiFailure, setUnauthorizedHandler, type Session } from './api.js';
import { AttendancePage } from './attendance.js';
import { Attendances } from './attendances.js';
import { Bots } from './bots.js';
import { Deliveries } from './deliveries.js';
import { href, useRoute, when } from './util.js';
import './styles.css';

function Login({ onDone, expired }: { onDone: (s: Session) => void; expired: boolean }) {
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const field = input.current;
    if (!field) return;
    setBusy(true);
    try {
      await api('POST', '/console/session', { token: field.value });
      field.value = '';
      onDone(await api<Session>('GET', '/console/session'));
    } catch (err) {
      setError(err instanceof ApiFailure ? (err.error.status === 401 ? 'That is not the admin token.' : err.message) : String(err));
      field.select();
    }
    setBusy(false);
  };
  return (
    <main class="login">
      <form method="post" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
        <h1 id="login-title">blip-helpdesk-bridge console</h1>
        {expired ? <p role="status">Your session ended; log in again.</p> : null}
        <label for="token">Admin token</label>
        <input ref={input} id="token" name="token" type="password" autocomplete="current-password" required aria-describedby="token-help" aria-invalid={error ? 'true' : 'false'} />
        <p id="token-help" class="caption">
          The value of <code>server.adminToken</code>. It is exchanged for a session cookie and not kept in this browser.
        </p>
        {error ? (
          <p role="alert" class="error">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [expired, setExpired] = useState(false);
  const route = useRoute();
  useEffect(() => {
    setUnauthorizedHandler(() => {
      setExpired(true);
      setSession(null);
    });
    api<Session>('GET', '/console/session').then(setSession, () => setSession(null));
  }, []);
  if (session === undefined) return <p aria-live="polite">Loading…</p>;
  if (session === null) return <Login expired={expired} onDone={(s) => (setExpired(false), setSession(s))} />;

  const [page = 'attendances', id] = route.path;
  const logout = async () => {
    await api('DELETE', '/console/session').catch(() => undefined);
    setSession(null);
  };
  const nav = [
    ['attendances', 'Attendances'],
    ['deliveries', 'Deliveries'],
    ['bots', 'Bots'],
  ] as const;
  let body;
  if (page === 'attendances' && id) body = <AttendancePage id={id} />;
  else if (page === 'deliveries') body = <Deliveries route={route} bots={session.bots} />;
  else if (page === 'bots') body = <Bots />;
  else body = <Attendances route={route} bots={session.bots} />;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">bridge console</span>
        <nav aria-label="Sections">
          {nav.map(([p, label]) => (
            <a key={p} href={href(p)} aria-current={page === p ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class="caption" title={`session until ${when(session.expiresAt)}`}>
          <button type="button" class="link" onClick={() => void logout()}>
            Log out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {body}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
