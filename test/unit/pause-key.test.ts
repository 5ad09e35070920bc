/** Which deliveries one 429 pauses together (DESIGN §3 "Rate limits"). */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Bridge } from '../../src/core/bridge.js';
import { HttpClient } from '../../src/delivery/http.js';
import type { Store } from '../../src/store/store.js';
import type { DeliveryRow } from '../../src/store/schema.js';

const blip = { identifier: 'x', accessKey: 'eA==', inboundToken: 'inbound-token-0123456789' };
const config = parseConfig(
  {
    server: { adminToken: 'admin-token-0123456789' },
    bots: [
      { id: 'ic', blip, helpdesk: { type: 'intercom', accessToken: 'token-0123456789', clientSecret: 'secret-0123456789' } },
      { id: 'tool', blip, helpdesk: { type: 'webhook', url: 'http://127.0.0.1:9/x', secret: `whsec_${Buffer.alloc(32, 1).toString('base64')}` } },
    ],
  },
  'test',
  {},
);

describe('pauseKey', () => {
  const bridge = new Bridge(config, {} as Store, new HttpClient(), pino({ level: 'silent' }));
  const row = (bot_id: string, lane: 'to-blip' | 'to-helpdesk') => ({ bot_id, lane }) as DeliveryRow;

  it('pauses all of a bot\'s traffic to Blip on a Blip 429', () => {
    expect(bridge.pauseKey(row('ic', 'to-blip'))).toBe('blip:ic');
    expect(bridge.pauseKey(row('tool', 'to-blip'))).toBe('blip:tool');
  });

  it('pauses every lane to Intercom (account-wide limit), only the lane for others', () => {
    expect(bridge.pauseKey(row('ic', 'to-helpdesk'))).toBe('helpdesk:ic');
    expect(bridge.pauseKey(row('tool', 'to-helpdesk'))).toBeUndefined();
  });
});
