/** When the store fails, inputs are refused with 503 + Retry-After (senders retry), nothing half-applied. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOT, IDENTIFIER, INBOUND_TOKEN, startHarness, type Harness } from '../helpers/harness.js';

describe('the store fails', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.blip.stop();
    await h.tool.stop();
    await h.bridge.app.close();
  });

  it('answers 503 with Retry-After and a coded error; readiness says so', async () => {
    await h.bridge.worker.stop();
    await h.bridge.store.close(); // what a lost database looks like to the routes
    const res = await h.post(`/blip/${BOT}/messages`, { id: 'x1', from: 'a@tunnel.msging.net', to: `${IDENTIFIER}@msging.net`, type: 'text/plain', content: 'hi' }, { authorization: `Bearer ${INBOUND_TOKEN}` });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('BRIDGE_ERR_INTERNAL');
    expect(JSON.stringify(res.body)).not.toMatch(/destroy|kysely|sqlite/i);
    const raw = await fetch(`${h.url}/blip/${BOT}/messages`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${INBOUND_TOKEN}` }, body: '{"from":"a@tunnel.msging.net","type":"text/plain","content":"x"}' });
    expect(raw.headers.get('retry-after')).toBe('5');
    const ready = await h.get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.error.code).toBe('BRIDGE_ERR_NOT_READY');
  });
});
