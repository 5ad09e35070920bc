/** Each bot: its helpdesk's check(), Blip's key check, attendances, backlog and this replica's metrics. */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiFailure, type BotsSummary, type CheckResult, type Series } from './api.js';
import { href, usePoll, when } from './util.js';

function labels(s: Series): string {
  return Object.entries(s.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

function SeriesTable({ rows, caption }: { rows: Series[]; caption: string }) {
  if (!rows.length) return <p class="muted">No {caption.toLowerCase()} yet.</p>;
  return (
    <div class="table-wrap">
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Metric</th>
            <th scope="col">Labels</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((s, i) => (
            <tr key={i}>
              <td>
                <code>{s.name}</code>
              </td>
              <td>{labels(s)}</td>
              <td class="num">{s.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Check({ bot }: { bot: string }) {
  const [result, setResult] = useState<CheckResult | { error: string } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      setResult(await api<CheckResult>('POST', `/admin/bots/${encodeURIComponent(bot)}/check`));
    } catch (e) {
      setResult({ error: e instanceof ApiFailure ? e.message : String(e) });
    }
    setBusy(false);
  };
  useEffect(() => {
    void run();
    // Once per page visit: a check calls the vendor.
  }, [bot]);
  return (
    <div class="check" aria-live="polite">
      {result && 'error' in result ? <p class="error">{result.error}</p> : null}
      {result && !('error' in result) ? (
        <ul>
          <li class={result.helpdesk.ok ? 'ok' : 'error'}>
            {result.helpdesk.ok ? '✓' : '✗'} helpdesk ({result.helpdesk.type}): {result.helpdesk.detail}
          </li>
          <li class={result.blip.ok ? 'ok' : 'error'}>
            {result.blip.ok ? '✓' : '✗'} Blip: {result.blip.detail}
          </li>
          <li class="caption">checked {when(result.checkedAt)}</li>
        </ul>
      ) : null}
      <button type="button" onClick={() => void run()} disabled={busy}>
        {busy ? 'Checking…' : 'Check again'}
      </button>
    </div>
  );
}

export function Bots() {
  const { data, error } = usePoll(() => api<BotsSummary>('GET', '/admin/bots'), 10_000, []);
  if (!data) return <p aria-live="polite">{error ? <span class="error">{error}</span> : 'Loading…'}</p>;
  return (
    <section aria-labelledby="bots-title">
      <h1 id="bots-title">Bots</h1>
      {data.bots.map((b) => (
        <article key={b.id} class="card" aria-labelledby={`bot-${b.id}`}>
          <h2 id={`bot-${b.id}`}>
            {b.id} <span class="tag">{b.helpdesk}</span>
          </h2>
          <p class="caption">
            Blip bot {b.blip.identifier} at {b.blip.baseUrl}
          </p>
          <Check bot={b.id} />
          <dl class="facts">
            <dt>Attendances</dt>
            <dd>
              {(['opening', 'open', 'closing'] as const).map((s) => (
                <a key={s} href={href('attendances', { bot: b.id, state: s })} class="pill">
                  {s}: {b.attendances[s] ?? 0}
                </a>
              ))}
            </dd>
            <dt>Backlog</dt>
            <dd>
              <a href={href('deliveries', { bot: b.id, state: 'pending' })} class="pill">
                pending: {b.backlog.pending >= b.backlog.cappedAt ? `${b.backlog.cappedAt}+` : b.backlog.pending}
              </a>
              <a href={href('deliveries', { bot: b.id, state: 'dead' })} class={`pill${b.backlog.dead ? ' bad' : ''}`}>
                dead: {b.backlog.dead >= b.backlog.cappedAt ? `${b.backlog.cappedAt}+` : b.backlog.dead}
              </a>
            </dd>
          </dl>
          <SeriesTable rows={b.metrics} caption={`Metrics of ${b.id} (this replica, since it started)`} />
        </article>
      ))}
      <article class="card" aria-labelledby="svc-title">
        <h2 id="svc-title">Service (this replica, since it started)</h2>
        <div class="table-wrap">
          <table>
            <caption>Delivery latency, enqueue to delivered</caption>
            <thead>
              <tr>
                <th scope="col">Lane</th>
                <th scope="col">Delivered</th>
                <th scope="col">Median ≤</th>
                <th scope="col">95th percentile ≤</th>
              </tr>
            </thead>
            <tbody>
              {data.service.latency.map((l) => (
                <tr key={l.lane}>
                  <td>{l.lane}</td>
                  <td class="num">{l.count}</td>
                  <td class="num">{l.p50 === null ? '—' : `${l.p50} s`}</td>
                  <td class="num">{l.p95 === null ? '—' : `${l.p95} s`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <SeriesTable rows={data.service.metrics} caption="Counters and gauges" />
      </article>
    </section>
  );
}
