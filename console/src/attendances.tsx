/** Attendances, newest first, filtered by bot, state and close reason, refreshed every few seconds. */
import { useState } from 'preact/hooks';
import { api, CLOSE_REASONS, STATES, type Attendance } from './api.js';
import { Choice, withAny } from './fields.js';
import { ago, customerLabel, href, usePoll, when, type Route } from './util.js';

const PAGE = 100;

interface Page {
  rows: Attendance[];
  next: string | null;
}

async function load(bot: string, state: string, reason: string, pages: number): Promise<Page> {
  const rows: Attendance[] = [];
  let next: string | null = null;
  for (let i = 0; i < pages; i++) {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (bot) q.set('bot', bot);
    if (state) q.set('state', state);
    // A close reason is set once the attendance starts closing; the store filters by it.
    if (reason) q.set('reason', reason);
    if (next) q.set('before', next);
    const res: { attendances: Attendance[]; next: string | null } = await api('GET', `/admin/attendances?${q}`);
    rows.push(...res.attendances);
    next = res.next;
    if (!next) break;
  }
  return { rows, next };
}

export function Attendances({ route, bots }: { route: Route; bots: string[] }) {
  const bot = route.query.get('bot') ?? '';
  const state = route.query.get('state') ?? '';
  const reason = route.query.get('reason') ?? '';
  const [pages, setPages] = useState(1);
  const { data, error } = usePoll(() => load(bot, state, reason, pages), 3000, [bot, state, reason, pages]);

  const go = (patch: Record<string, string>) => {
    setPages(1);
    location.hash = href('attendances', { bot, state, reason, ...patch });
  };

  return (
    <section aria-labelledby="att-title">
      <h1 id="att-title">Attendances</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <Choice label="Bot" value={bot} options={withAny('all bots', bots)} onChange={(v) => go({ bot: v })} />
        <Choice label="State" value={state} options={withAny('any state', STATES)} onChange={(v) => go({ state: v })} />
        <Choice label="Close reason" value={reason} options={withAny('any reason', CLOSE_REASONS)} onChange={(v) => go({ reason: v })} />
        <span class="live" aria-live="polite">
          {error ? <span class="error">{error}</span> : data ? `${data.rows.length} shown · live` : 'loading…'}
        </span>
      </form>
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Attendances, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Opened</th>
              <th scope="col">Customer</th>
              <th scope="col">Bot</th>
              <th scope="col">State</th>
              <th scope="col">Agent</th>
              <th scope="col">Close reason</th>
            </tr>
          </thead>
          <tbody>
            {data?.rows.map((a) => (
              <tr key={a.id}>
                <td>
                  <a href={href(`attendances/${encodeURIComponent(a.id)}`)}>{when(a.openedAt)}</a>
                  <span class="caption">{ago(a.openedAt)}</span>
                </td>
                <td>
                  <a href={href(`attendances/${encodeURIComponent(a.id)}`)}>{customerLabel(a.customer)}</a>
                  <span class="caption">{a.customer.originator ?? a.customer.address}</span>
                </td>
                <td>{a.bot}</td>
                <td>
                  <span class={`state state-${a.state}`}>{a.state}</span>
                </td>
                <td>{a.agent?.name ?? '—'}</td>
                <td>{a.closeReason ?? '—'}</td>
              </tr>
            ))}
            {data && data.rows.length === 0 ? (
              <tr>
                <td colSpan={6} class="muted">
                  No attendance matches.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      {data?.next ? (
        <button type="button" onClick={() => setPages(pages + 1)}>
          Load older
        </button>
      ) : null}
    </section>
  );
}
