/**
 * One per-bot budget for everything sent to Blip (issue 11; research/blip.md §1.2: Blip's limits
 * count notifications and commands too): messages, notifications and commands each take a token
 * from the bot's one pacer before they leave, against a real Blip simulator.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BlipSimulator } from '../../simulators/blip/index.js';
import { BlipClient } from '../../src/blip/client.js';
import { HttpClient } from '../../src/delivery/http.js';
import { parseConfig } from '../../src/config/load.js';

describe('Blip client pacing', () => {
  let sim: BlipSimulator | undefined;
  afterEach(async () => sim?.stop());

  it('messages, notifications and commands share the bot’s one pacer', async () => {
    const accessKey = Buffer.from('pace-key').toString('base64');
    sim = new BlipSimulator({ bots: [{ identifier: 'pacebot', accessKey, router: 'pacerouter', service: 'human' }] });
    const url = await sim.start();
    const config = parseConfig({
      server: { adminToken: 'a'.repeat(16) },
      bots: [{ id: 'b', blip: { identifier: 'pacebot', accessKey, baseUrl: url, inboundToken: 'i'.repeat(16), messagesPerSecond: 5 }, helpdesk: { type: 'webhook', url: 'https://t.example.com', secret: `whsec_${Buffer.from('x'.repeat(32)).toString('base64')}` } }],
    });
    const http = new HttpClient(2000);
    const client = new BlipClient(config.bots[0]!.blip, http, 2000);
    const take = vi.spyOn(client.pacer, 'take');
    const to = '00000000-0000-4000-8000-000000000001@tunnel.msging.net';
    await client.sendMessage({ id: 'm1', to, type: 'text/plain', content: 'hello' }).catch(() => undefined);
    await client.sendNotification({ id: 'n1', to, event: 'consumed' }).catch(() => undefined);
    await client.command({ to: 'postmaster@msging.net', method: 'get', uri: '/threads?$take=1' });
    expect(take).toHaveBeenCalledTimes(3);
    expect(sim.received.commands).toHaveLength(1);
    await http.close();
  });
});
