/**
 * The console's reading of this replica's Prometheus registry: every `bridge_` series, grouped by
 * the bot it is labelled with (or the service when it has no bot label), and each lane's delivery
 * latency as the bucket bounds its median and 95th percentile fall under. Process metrics stay
 * on /metrics. New metrics (labelled with `bot` or not) appear here without a change.
 */
import type { MetricObjectWithValues, MetricValue, MetricValueWithName } from 'prom-client';

export interface Series {
  name: string;
  labels: Record<string, string | number>;
  value: number;
}

export interface LatencySummary {
  lane: string;
  count: number;
  /** Upper bound (seconds) of the bucket holding the median; null when nothing was measured. */
  p50: number | null;
  p95: number | null;
}

type Values = Array<MetricValue<string> | MetricValueWithName<string>>;

function quantile(buckets: Array<{ le: number; n: number }>, count: number, q: number): number | null {
  if (count === 0) return null;
  for (const b of buckets) if (b.n >= q * count) return b.le;
  return null;
}

export function summariseMetrics(all: MetricObjectWithValues<MetricValue<string>>[], bots: string[]): { perBot: Map<string, Series[]>; service: Series[]; latency: LatencySummary[] } {
  const perBot = new Map<string, Series[]>(bots.map((b) => [b, []]));
  const service: Series[] = [];
  const latency: LatencySummary[] = [];
  for (const m of all) {
    if (!m.name.startsWith('bridge_') || m.name.startsWith('bridge_process_')) continue;
    const values = m.values as Values;
    if (String(m.type) === 'histogram') {
      const lanes = new Map<string, { buckets: Array<{ le: number; n: number }>; count: number }>();
      for (const v of values) {
        const lane = String(v.labels['lane'] ?? '');
        const entry = lanes.get(lane) ?? { buckets: [], count: 0 };
        lanes.set(lane, entry);
        const metricName = 'metricName' in v ? v.metricName : undefined;
        if (metricName?.endsWith('_bucket') && v.labels['le'] !== '+Inf') entry.buckets.push({ le: Number(v.labels['le']), n: v.value });
        if (metricName?.endsWith('_count')) entry.count = v.value;
      }
      for (const [lane, e] of lanes) {
        e.buckets.sort((a, b) => a.le - b.le);
        latency.push({ lane, count: e.count, p50: quantile(e.buckets, e.count, 0.5), p95: quantile(e.buckets, e.count, 0.95) });
      }
      continue;
    }
    for (const v of values) {
      const { bot, ...labels } = v.labels as Record<string, string | number>;
      const s: Series = { name: m.name, labels, value: v.value };
      const list = bot !== undefined ? perBot.get(String(bot)) : service;
      list?.push(s);
    }
  }
  return { perBot, service, latency };
}
