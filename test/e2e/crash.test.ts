/**
 * SIGKILL mid-load and restart: nothing acknowledged is lost, nothing is applied twice, lanes keep
 * their order. Real process, real SQLite file, simulators on loopback.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BOT, IDENTIFIER, INBOUND_TOKEN, rawConfig, startSimulators, until } from '../helpers/harness.js';
import { freePort, startService, writeConfig, type ServiceProcess } from '../helpers/process.js';

const CUSTOMERS = 12;
const PER_CUSTOMER = 30;

describe('a killed process loses nothing it acknowledged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-crash-'));
  let svc: ServiceProcess | undefined;
  let sims: Awaited<ReturnType<typeof startSimulators>> | undefined;
  afterAll(async () => {
    svc?.child.kill('SIGKILL');
    await sims?.blip.stop();
    await sims?.tool.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGKILL while customers and agents talk, then restart', async () => {
    sims = await startSimulators();
    const { blip, tool, blipUrl, toolUrl } = sims;
    // Slow the tool a little so deliveries are in flight when the kill lands.
    tool.setLatency(2);
    const port = await freePort();
    const config = writeConfig(dir, rawConfig(blipUrl, toolUrl, dir, { delivery: { maxAttempts: 100, baseDelayMs: 20, maxDelayMs: 200 } }));
    svc = await startService(config, port);
    const hook = { messagesUrl: `${svc.url}/blip/${BOT}/messages`, notificationsUrl: `${svc.url}/blip/${BOT}/notifications`, headers: { authorization: `Bearer ${INBOUND_TOKEN}` } };
    blip.setBotUrls(IDENTIFIER, hook);
    tool.setBridgeWebhookUrl(`${svc.url}/helpdesk/${BOT}/webhook`);

    const originators = Array.from({ length: CUSTOMERS }, (_, i) => `55110000${String(i).padStart(4, '0')}@wa.gw.msging.net`);
    for (const o of originators) blip.addCustomer({ originator: o });
    const acked = new Map<string, string[]>(); // originator → texts Blip got 202 for, in order

    let killed = false;
    const customer = async (o: string) => {
      const mine: string[] = [];
      acked.set(o, mine);
      for (let i = 0; i < PER_CUSTOMER; i++) {
        const text = `${o.slice(6, 12)}-${i}`;
        // A real router would retry what was not acknowledged; the test sends each message until acknowledged.
        for (;;) {
          const res = await blip.customerSays(o, IDENTIFIER, { type: 'text/plain', content: text });
          if (res.status === 202) {
            mine.push(text);
            break;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const load = Promise.all(originators.map(customer));
    await until(() => [...acked.values()].reduce((n, l) => n + l.length, 0) >= (CUSTOMERS * PER_CUSTOMER) / 3, 20_000, 'a third of the load');
    svc.child.kill('SIGKILL');
    killed = true;
    await svc.exited;
    svc = await startService(config, port);
    await load;
    expect(killed).toBe(true);

    const total = CUSTOMERS * PER_CUSTOMER;
    await tool.waitFor((t) => t.eventsOfType('customer.message').length >= total, 30_000);
    const events = tool.eventsOfType('customer.message');
    // Exactly once in effect: each acknowledged message appears once at the tool…
    expect(events).toHaveLength(total);
    // …and in each customer's order.
    const attendanceOf = new Map(tool.eventsOfType('attendance.opened').map((e) => [e.data.attendance.id, e.data.customer.originator]));
    for (const o of originators) {
      const got = events.filter((e) => attendanceOf.get(e.data.attendanceId) === o).map((e) => e.data.message.content.text);
      expect(got).toEqual(acked.get(o));
    }
    expect(tool.eventsOfType('attendance.opened')).toHaveLength(CUSTOMERS);
    const resent = tool.attempts.filter((a) => a.outcome === 'duplicate').length;
    console.log(`crash test: ${total} messages acknowledged, ${events.length} delivered once each; ${resent} re-sent after the kill and deduped by webhook-id`);
  }, 90_000);
});
