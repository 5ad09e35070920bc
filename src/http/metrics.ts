/**
 * Prometheus metrics (DESIGN §6: names prefixed `bridge_`). One registry per app instance so tests
 * can build many apps in one process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from '../store/store.js';

export class Metrics {
  readonly registry = new Registry();
  readonly inbound: Counter<'route' | 'outcome'>;
  readonly deliveries: Counter<'lane' | 'kind' | 'outcome'>;
  readonly latency: Histogram<'lane'>;
  readonly closed: Counter<'bot' | 'reason'>;

  constructor(store: Store) {
    collectDefaultMetrics({ register: this.registry, prefix: 'bridge_process_' });
    this.inbound = new Counter({
      name: 'bridge_inbound_total',
      help: 'Inbound calls from Blip and helpdesks by route and outcome: accepted, duplicate, ignored, or the BRIDGE_ERR_* code of a rejection.',
      labelNames: ['route', 'outcome'],
      registers: [this.registry],
    });
    this.deliveries = new Counter({
      name: 'bridge_deliveries_total',
      help: 'Delivery attempts by lane, kind and outcome (delivered, retry, dead).',
      labelNames: ['lane', 'kind', 'outcome'],
      registers: [this.registry],
    });
    this.closed = new Counter({
      name: 'bridge_attendances_closed_total',
      help: 'Attendances that ended, by bot and close reason (agent, customer, admin, customer-inactive, no-agent, outside-hours, expired, failed), counted when the close is decided.',
      labelNames: ['bot', 'reason'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'bridge_delivery_latency_seconds',
      help: 'From enqueue to delivered, by lane.',
      labelNames: ['lane'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [this.registry],
    });
    new Gauge({
      name: 'bridge_attendances_open',
      help: 'Attendances not closed, by bot and state.',
      labelNames: ['bot', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const r of await store.countOpenAttendances()) this.set({ bot: r.bot_id, state: r.state }, r.n);
      },
    });
    new Gauge({
      name: 'bridge_deliveries_backlog',
      help: 'Deliveries not done, by lane and state (pending, dead).',
      labelNames: ['lane', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const r of await store.countDeliveries()) this.set({ lane: r.lane, state: r.state }, r.n);
      },
    });
  }
}

/** The `route` label of bridge_inbound_total for a Fastify route pattern; undefined for other routes. */
export function inboundRoute(pattern: string | undefined): string | undefined {
  switch (pattern) {
    case '/blip/:bot/messages':
      return 'blip-message';
    case '/blip/:bot/notifications':
      return 'blip-notification';
    case '/helpdesk/:bot/webhook':
      return 'helpdesk-webhook';
    default:
      return undefined;
  }
}
