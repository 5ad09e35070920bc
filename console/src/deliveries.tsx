/**
 * Deliveries by state (dead letters by default), with replay. A refused replay shows the
 * server's coded reason (e.g. a delivery whose attendance has moved on, issue 11).
 */
import { useState } from 'preact/hooks';
import { api, ApiFailure, type Delivery } from './api.js';
import { DeliveryTable } from './attendance.js';
import { Choice, withAny } from './fields.js';
import { href, usePoll, type Route } from './util.js';

const STATES = [
  ['dead', 'dead (dead letters)'],
  ['pending', 'pending'],
  ['done', 'done'],
] as const;
const LANES = withAny('both lanes', ['to-helpdesk', 'to-blip']);

export function Deliveries({ route, bots }: { route: Route; bots: string[] }) {
  const state = route.query.get('state') ?? 'dead';
  const bot = route.query.get('bot') ?? '';
  const lane = route.query.get('lane') ?? '';
  const [notice, setNotice] = useState<{ tone: 'ok' | 'error'; text: string } | undefined>(undefined);
  const { data, error, refresh } = usePoll(
    () => {
      const q = new URLSearchParams({ state, limit: '200' });
      if (bot) q.set('bot', bot);
      if (lane) q.set('lane', lane);
      return api<{ deliveries: Delivery[] }>('GET', `/admin/deliveries?${q}`);
    },
    3000,
    [state, bot, lane],
  );
  const go = (patch: Record<string, string>) => {
    location.hash = href('deliveries', { state, bot, lane, ...patch });
  };
  const replay = async (d: Delivery) => {
    try {
      await api('POST', `/admin/deliveries/${d.id}/retry`);
      setNotice({ tone: 'ok', text: `Delivery ${d.id} is pending again; a worker runs it now.` });
    } catch (e) {
      setNotice({ tone: 'error', text: `Replay of delivery ${d.id} refused — ${e instanceof ApiFailure ? e.message : String(e)}` });
    }
    refresh();
  };
  // Newest first: a dead letter of a minute ago matters more than last week's.
  const rows = data ? [...data.deliveries].reverse() : [];
  return (
    <section aria-labelledby="del-title">
      <h1 id="del-title">Deliveries</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <Choice label="State" value={state} options={STATES} onChange={(v) => go({ state: v })} />
        <Choice label="Bot" value={bot} options={withAny('all bots', bots)} onChange={(v) => go({ bot: v })} />
        <Choice label="Lane" value={lane} options={LANES} onChange={(v) => go({ lane: v })} />
        <span class="live" aria-live="polite">
          {error ? <span class="error">{error}</span> : data ? `${rows.length} shown · live` : 'loading…'}
        </span>
      </form>
      {notice ? (
        <p role={notice.tone === 'error' ? 'alert' : 'status'} class={notice.tone}>
          {notice.text}
        </p>
      ) : null}
      <DeliveryTable rows={rows} onReplay={(d) => void replay(d)} />
    </section>
  );
}
