/**
 * A bot's attendance policy (`bots[].attendance`) in the form the lifecycle uses: durations in
 * milliseconds and business hours as minutes of the week. The schema checks each value's shape;
 * `policyProblems` checks what a pattern cannot (a time zone that exists, slots that do not overlap,
 * dates that exist, a reminder before the close), so check-config names each with its path.
 */
import type { BotConfig } from '../config/schema.js';

type AttendanceConfig = BotConfig['attendance'];

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
type Day = (typeof DAYS)[number];
/** Order of the week as people write ranges (mon-fri, sat-sun): Monday first. */
const WEEK: readonly Day[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export function durationMs(text: string): number {
  const m = /^([0-9]{1,7})(s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (use 90s, 5m, 2h or 3d)`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

export interface Policy {
  timeZone: string;
  /** Open slots per day (0 = Sunday, as Date.getDay), in minutes since midnight; undefined = always open. */
  hours?: Array<Array<[number, number]>>;
  holidays: ReadonlySet<string>;
  outsideHours: 'handback' | 'open';
  inactivity?: { remindMs?: number; closeMs: number; keepWhileCustomerWaits: boolean };
  waiting?: { notifyMs?: number; handBackMs?: number };
  maxDurationMs?: number;
  messages: AttendanceConfig['messages'];
}

/** The days a key (`mon`, `mon-fri`, `fri-mon`) names, in week order; wraps past Sunday. */
function daysOf(key: string): Day[] {
  const [from, to = from] = key.split('-') as [Day, Day?];
  const start = WEEK.indexOf(from);
  const end = WEEK.indexOf(to);
  const out: Day[] = [];
  for (let i = start; ; i = (i + 1) % 7) {
    out.push(WEEK[i]!);
    if (i === end) break;
  }
  return out;
}

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

/** Problems a schema cannot see, each with its path (`bots[0].attendance.hours.mon-fri[1]: …`). */
export function policyProblems(a: AttendanceConfig, prefix: string): string[] {
  const out: string[] = [];
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: a.timeZone });
  } catch {
    out.push(`${prefix}.timeZone: unknown time zone ${JSON.stringify(a.timeZone)} (an IANA name such as America/Sao_Paulo or UTC)`);
  }
  if (a.hours) {
    const byDay = new Map<Day, Array<{ from: number; to: number; where: string }>>();
    for (const [key, slots] of Object.entries(a.hours)) {
      slots.forEach((slot, i) => {
        const where = `${prefix}.hours.${key}[${i}]`;
        const [f, t] = slot.split('-') as [string, string];
        const from = minutes(f);
        const to = minutes(t);
        if (to <= from) {
          out.push(`${where}: the slot ${JSON.stringify(slot)} ends before it starts (use 24:00 for midnight; a night shift is two slots on two days)`);
          return;
        }
        for (const day of daysOf(key)) {
          const list = byDay.get(day) ?? [];
          const clash = list.find((s) => from < s.to && s.from < to);
          if (clash) out.push(`${where}: the slot ${JSON.stringify(slot)} overlaps ${clash.where} on ${day}`);
          list.push({ from, to, where });
          byDay.set(day, list);
        }
      });
    }
  }
  a.holidays.forEach((d, i) => {
    const [y, m, day] = d.split('-').map(Number) as [number, number, number];
    const date = new Date(Date.UTC(y, m - 1, day));
    if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== day) out.push(`${prefix}.holidays[${i}]: ${JSON.stringify(d)} is not a date`);
  });
  const inactivity = a.inactivity;
  if (inactivity?.remindAfter && durationMs(inactivity.remindAfter) >= durationMs(inactivity.closeAfter)) {
    out.push(`${prefix}.inactivity.remindAfter: must be shorter than closeAfter (${inactivity.closeAfter}), or the reminder never comes`);
  }
  for (const [path, v] of [
    ['inactivity.closeAfter', inactivity?.closeAfter],
    ['inactivity.remindAfter', inactivity?.remindAfter],
    ['waitingForAgent.notifyAfter', a.waitingForAgent?.notifyAfter],
    ['waitingForAgent.handBackAfter', a.waitingForAgent?.handBackAfter],
    ['maxDuration', a.maxDuration],
  ] as const) {
    if (v !== undefined && durationMs(v) === 0) out.push(`${prefix}.${path}: must be longer than zero`);
  }
  return out;
}

export function compilePolicy(a: AttendanceConfig): Policy {
  let hours: Policy['hours'];
  if (a.hours) {
    hours = DAYS.map(() => []);
    for (const [key, slots] of Object.entries(a.hours)) {
      for (const day of daysOf(key)) {
        for (const slot of slots) {
          const [f, t] = slot.split('-') as [string, string];
          hours[DAYS.indexOf(day)]!.push([minutes(f), minutes(t)]);
        }
      }
    }
  }
  const i = a.inactivity;
  const w = a.waitingForAgent;
  return {
    timeZone: a.timeZone,
    ...(hours ? { hours } : {}),
    holidays: new Set(a.holidays),
    outsideHours: a.outsideHours,
    ...(i ? { inactivity: { closeMs: durationMs(i.closeAfter), keepWhileCustomerWaits: i.keepWhileCustomerWaits, ...(i.remindAfter ? { remindMs: durationMs(i.remindAfter) } : {}) } } : {}),
    ...(w && (w.notifyAfter || w.handBackAfter)
      ? { waiting: { ...(w.notifyAfter ? { notifyMs: durationMs(w.notifyAfter) } : {}), ...(w.handBackAfter ? { handBackMs: durationMs(w.handBackAfter) } : {}) } }
      : {}),
    ...(a.maxDuration ? { maxDurationMs: durationMs(a.maxDuration) } : {}),
    messages: a.messages,
  };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall clock in a time zone: the date (YYYY-MM-DD), the day of the week (0 = Sunday) and the minute of the day. */
export function wallClock(at: number, timeZone: string): { date: string; day: number; minute: number } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', weekday: 'short', hour: '2-digit', minute: '2-digit' });
    formatters.set(timeZone, f);
  }
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(new Date(at))) parts[p.type] = p.value;
  return {
    date: `${parts['year']}-${parts['month']}-${parts['day']}`,
    day: DAYS.indexOf((parts['weekday'] ?? 'Sun').toLowerCase().slice(0, 3) as Day),
    minute: Number(parts['hour']) * 60 + Number(parts['minute']),
  };
}

/** Whether people are at work at `at`: inside a slot of that day, and not a holiday. */
export function isOpenAt(p: Policy, at: number): boolean {
  if (!p.hours && p.holidays.size === 0) return true;
  const w = wallClock(at, p.timeZone);
  if (p.holidays.has(w.date)) return false;
  if (!p.hours) return true;
  return p.hours[w.day]!.some(([from, to]) => w.minute >= from && w.minute < to);
}
