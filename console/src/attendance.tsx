/**
 * One attendance as a conversation: the bot transcript handed to the helpdesk, then every
 * customer, agent and system message as a chat bubble with its delivery status, and the
 * attendance's events (opened, opened in the helpdesk, closed with its reason, the Redirect)
 * read from its deliveries. Refreshed every 1.5 s while open.
 */
import { useState } from 'preact/hooks';
import { api, ApiFailure, type AttendanceDetail, type Delivery, type Message, type TranscriptEntry } from './api.js';
import { ContentView } from './content.js';
import { clock, customerLabel, href, usePoll, when } from './util.js';

type Item =
  | { type: 'event'; at: string; id: string; title: string; detail?: string | undefined; tone: 'ok' | 'warn' | 'error' | 'info' }
  | { type: 'message'; at: string; id: string; message: Message; deliveries: Delivery[]; notifications: Delivery[] };

function deliveryStory(d: Delivery): string {
  const tries = `${d.attempts} attempt${d.attempts === 1 ? '' : 's'}`;
  if (d.state === 'done') return `done (${tries})`;
  if (d.state === 'dead') return `dead after ${tries}`;
  return d.attempts ? `retrying (${tries}; next ${d.nextAttemptAt ? clock(d.nextAttemptAt) : 'soon'})` : 'queued';
}

function tone(d: Delivery): 'ok' | 'warn' | 'error' {
  return d.state === 'done' ? 'ok' : d.state === 'dead' ? 'error' : 'warn';
}

/** The attendance's story in time order, from its message log and its deliveries. */
export function timeline(a: AttendanceDetail): Item[] {
  const items: Item[] = [{ type: 'event', at: a.openedAt, id: 'opened', title: `Hand-off: the customer reached ${a.bot}'s human attendance`, tone: 'info' }];
  const byMessage = new Map<string, Delivery[]>();
  const bySource = new Map<string, Delivery[]>();
  const push = (m: Map<string, Delivery[]>, k: string, d: Delivery) => m.set(k, [...(m.get(k) ?? []), d]);
  for (const d of a.deliveries) {
    const p = d.payload;
    if (typeof p['messageId'] === 'string') push(byMessage, p['messageId'], d);
    else if (d.kind === 'notification' && typeof p['id'] === 'string') push(bySource, p['id'], d);
    else if (d.kind === 'typing' || d.kind === 'chatstate') continue;
    else {
      const at = d.state === 'done' ? d.updatedAt : d.createdAt;
      const reason = typeof p['reason'] === 'string' ? p['reason'] : undefined;
      const err = d.lastError ? `last error: ${d.lastError}` : undefined;
      if (d.kind === 'open') items.push({ type: 'event', at, id: `d${d.id}`, title: `Open in the helpdesk: ${deliveryStory(d)}`, detail: err, tone: tone(d) });
      else if (d.kind === 'redirect') items.push({ type: 'event', at, id: `d${d.id}`, title: `Redirect back to the bot${reason ? ` (reason: ${reason})` : ''}: ${deliveryStory(d)}`, detail: err, tone: tone(d) });
      else if (d.kind === 'close') items.push({ type: 'event', at, id: `d${d.id}`, title: `Helpdesk told of the close${reason ? ` (${reason})` : ''}: ${deliveryStory(d)}`, detail: err, tone: tone(d) });
      else items.push({ type: 'event', at, id: `d${d.id}`, title: `${d.kind} (${d.lane})${reason ? ` — ${reason}` : ''}: ${deliveryStory(d)}`, detail: err, tone: tone(d) });
    }
  }
  for (const m of a.messages) {
    items.push({ type: 'message', at: m.at, id: m.id, message: m, deliveries: byMessage.get(m.id) ?? [], notifications: m.sourceId ? (bySource.get(m.sourceId) ?? []) : [] });
  }
  if (a.closedAt) items.push({ type: 'event', at: a.closedAt, id: 'closed', title: `Closed — reason: ${a.closeReason ?? 'none recorded'}`, tone: 'info' });
  else if (a.closeReason) {
    const redirect = a.deliveries.find((d) => d.kind === 'redirect');
    items.push({ type: 'event', at: redirect?.createdAt ?? a.openedAt, id: 'closing', title: `Closing — reason: ${a.closeReason}`, tone: 'info' });
  }
  // Stable: same time keeps the log's order (events of one transaction before its messages).
  return items.map((it, i) => ({ it, i })).sort((x, y) => Date.parse(x.it.at) - Date.parse(y.it.at) || x.i - y.i).map((x) => x.it);
}

function MessageBubble({ item }: { item: Extract<Item, { type: 'message' }> }) {
  const m = item.message;
  const who = m.direction === 'customer' ? 'Customer' : m.direction === 'agent' ? 'Agent' : 'Bridge (system message)';
  const failed = m.status.startsWith('failed') || item.deliveries.some((d) => d.state === 'dead');
  return (
    <li class={`bubble from-${m.direction}${failed ? ' failed' : ''}`} data-message-id={m.id}>
      <div class="who">
        {who} · <time dateTime={m.at}>{clock(m.at)}</time>
      </div>
      <ContentView content={m.content} />
      <div class="status">
        <span class="tag">{m.status}</span>
        {item.deliveries.map((d) => (
          <span key={d.id} class={`dstat ${tone(d)}`}>
            {d.lane} {d.kind}: {deliveryStory(d)}
            {d.lastError ? <span class="err"> — {d.lastError}</span> : null}
          </span>
        ))}
        {item.notifications.map((d) => (
          <span key={d.id} class={`dstat ${tone(d)}`}>
            Blip told “{String(d.payload['event'])}”: {deliveryStory(d)}
          </span>
        ))}
      </div>
    </li>
  );
}

function Transcript({ entries }: { entries: TranscriptEntry[] | null }) {
  if (!entries) return <p class="muted">No bot transcript yet (it is read when the attendance opens in the helpdesk).</p>;
  if (!entries.length) return <p class="muted">The bot transcript is empty.</p>;
  return (
    <ol class="chat transcript">
      {entries.map((t, i) => (
        <li key={i} class={`bubble from-${t.direction === 'bot' ? 'bot' : 'customer'}`}>
          <div class="who">
            {t.direction === 'bot' ? 'Bot' : 'Customer'} · <time dateTime={t.at}>{clock(t.at)}</time>
          </div>
          <ContentView content={t.content} />
        </li>
      ))}
    </ol>
  );
}

export function AttendancePage({ id }: { id: string }) {
  const [notice, setNotice] = useState<{ tone: 'ok' | 'error'; text: string } | undefined>(undefined);
  const { data, error, refresh } = usePoll(
    async () => {
      const [a, t] = await Promise.all([
        api<AttendanceDetail>('GET', `/admin/attendances/${encodeURIComponent(id)}`),
        api<{ transcript: TranscriptEntry[] | null }>('GET', `/admin/attendances/${encodeURIComponent(id)}/transcript`),
      ]);
      return { a, transcript: t.transcript };
    },
    1500,
    [id],
  );

  const close = async () => {
    if (!confirm('Close this attendance? The customer gets the farewell and goes back to the bot.')) return;
    try {
      await api('POST', `/admin/attendances/${encodeURIComponent(id)}/close`, {});
      setNotice({ tone: 'ok', text: 'Closing: the farewell and the Redirect are on their way.' });
    } catch (e) {
      setNotice({ tone: 'error', text: e instanceof ApiFailure ? e.message : String(e) });
    }
    refresh();
  };

  if (!data) return <p aria-live="polite">{error ? <span class="error">{error}</span> : 'Loading…'}</p>;
  const a = data.a;
  const helpdesk = a.helpdesk ? Object.entries(a.helpdesk).filter(([, v]) => typeof v === 'string' || typeof v === 'number') : [];
  return (
    <section aria-labelledby="conv-title">
      <p>
        <a href={href('attendances')}>← Attendances</a>
      </p>
      <h1 id="conv-title">
        {customerLabel(a.customer)} <span class={`state state-${a.state}`}>{a.state}</span>
      </h1>
      <dl class="facts">
        <dt>Customer</dt>
        <dd>{[a.customer.originator ?? a.customer.address, a.customer.email, a.customer.phone].filter(Boolean).join(' · ')}</dd>
        <dt>Bot</dt>
        <dd>{a.bot}</dd>
        <dt>Opened</dt>
        <dd>{when(a.openedAt)}</dd>
        <dt>Closed</dt>
        <dd>{a.closedAt ? `${when(a.closedAt)} (${a.closeReason ?? 'no reason'})` : a.closeReason ? `closing (${a.closeReason})` : '—'}</dd>
        <dt>Agent</dt>
        <dd>{a.agent?.name ?? a.agent?.id ?? '—'}</dd>
        <dt>Helpdesk</dt>
        <dd>{helpdesk.length ? helpdesk.map(([k, v]) => `${k}: ${v}`).join(' · ') : 'not opened yet'}</dd>
        <dt>Attendance id</dt>
        <dd>
          <code>{a.id}</code>
        </dd>
      </dl>
      {a.state === 'opening' || a.state === 'open' ? (
        <button type="button" class="danger" onClick={() => void close()}>
          Close attendance
        </button>
      ) : null}
      {notice ? (
        <p role={notice.tone === 'error' ? 'alert' : 'status'} class={notice.tone}>
          {notice.text}
        </p>
      ) : null}
      {error ? (
        <p role="alert" class="error">
          Refresh failed: {error}
        </p>
      ) : null}
      <h2>Before the hand-off: the bot transcript</h2>
      <Transcript entries={data.transcript} />
      <h2>The attendance</h2>
      <ol class="chat" aria-live="polite" aria-label="Conversation">
        {timeline(a).map((it) =>
          it.type === 'message' ? (
            <MessageBubble key={it.id} item={it} />
          ) : (
            <li key={it.id} class={`event ${it.tone}`}>
              <time dateTime={it.at}>{clock(it.at)}</time> {it.title}
              {it.detail ? <span class="caption">{it.detail}</span> : null}
            </li>
          ),
        )}
      </ol>
      <details>
        <summary>All {a.deliveries.length} deliveries</summary>
        <DeliveryTable rows={a.deliveries} />
      </details>
    </section>
  );
}

export function DeliveryTable({ rows, onReplay }: { rows: Delivery[]; onReplay?: (d: Delivery) => void }) {
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Lane · kind</th>
            <th scope="col">State</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last error</th>
            <th scope="col">Updated</th>
            {onReplay ? <th scope="col">Attendance</th> : null}
            {onReplay ? <th scope="col">Action</th> : null}
          </tr>
        </thead>
        <tbody>
          {rows.map((d) => (
            <tr key={d.id} data-delivery-id={d.id}>
              <td>{d.id}</td>
              <td>
                {d.lane} · {d.kind}
                {typeof d.payload['reason'] === 'string' ? <span class="caption">reason: {d.payload['reason']}</span> : null}
              </td>
              <td>
                <span class={`dstat ${tone(d)}`}>{d.state}</span>
              </td>
              <td>{d.attempts}</td>
              <td class="err">{d.lastError ?? ''}</td>
              <td>{when(d.updatedAt)}</td>
              {onReplay ? (
                <td>
                  <a href={href(`attendances/${encodeURIComponent(d.attendanceId)}`)}>
                    {d.bot} · {d.attendanceId.slice(0, 8)}
                  </a>
                </td>
              ) : null}
              {onReplay ? (
                <td>{d.state === 'dead' ? <button type="button" onClick={() => onReplay(d)} aria-label={`Replay delivery ${d.id}`}>Replay</button> : null}</td>
              ) : null}
            </tr>
          ))}
          {rows.length === 0 ? (
            <tr>
              <td colSpan={onReplay ? 8 : 6} class="muted">
                None.
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </div>
  );
}
