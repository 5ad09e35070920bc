/**
 * The console's login and session (http/session.ts) and its additions to the admin API
 * (http/console.ts), over real HTTP. The browser tests (test/browser/) drive the page itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ConsoleSessions, SESSION_TTL_MS } from '../../src/http/session.js';
import { ADMIN_TOKEN, IDENTIFIER, startHarness, until, type Harness } from '../helpers/harness.js';

const C = '5511000000077@wa.gw.msging.net';

describe('web console: session and API', () => {
  let h: Harness;
  let attendanceId: string;
  let cookie: string;

  async function call(method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
    const res = await request(`${h.url}${path}`, { method: method as 'GET', headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, body: body === undefined ? null : JSON.stringify(body) });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text, json: text.startsWith('{') ? JSON.parse(text) : undefined };
  }

  beforeAll(async () => {
    h = await startHarness();
    h.blip.addCustomer({ originator: C, name: 'Rita', history: [{ direction: 'sent', type: 'text/plain', content: 'Hi! I am the bot.' }] });
    await h.blip.customerSays(C, IDENTIFIER, { type: 'text/plain', content: 'help me' });
    attendanceId = (await until(() => h.tool.eventsOfType('attendance.opened')[0])).data.attendance.id;
  });
  afterAll(async () => h.stop());

  it('serves the page with a strict content security policy, and no data without a session', async () => {
    const page = await call('GET', '/console');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(page.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(page.text).toContain('/console/assets/app.js');
    expect((await call('GET', '/console/assets/app.js')).headers['content-type']).toMatch(/javascript/);
    expect((await call('GET', '/console/assets/../../package.json')).status).toBe(404);
    expect((await call('GET', '/console/assets/secret.js')).status).toBe(404);
    expect((await call('GET', '/console/session')).status).toBe(401);
    expect((await call('GET', '/admin/bots')).status).toBe(401);
  });

  it('exchanges the admin token for an HttpOnly, SameSite=Strict session cookie, only from the console page', async () => {
    expect((await call('POST', '/console/session', {}, { token: ADMIN_TOKEN })).status).toBe(401);
    const wrong = await call('POST', '/console/session', { 'x-bridge-console': '1' }, { token: 'wrong' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    expect((await call('POST', '/console/session', { 'x-bridge-console': '1' }, { token: ADMIN_TOKEN, extra: 1 })).status).toBe(400);
    const ok = await call('POST', '/console/session', { 'x-bridge-console': '1' }, { token: ADMIN_TOKEN });
    expect(ok.status).toBe(200);
    const set = String(ok.headers['set-cookie']);
    expect(set).toMatch(/^bridge_console=v1\.\d+\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    expect(set).not.toContain(ADMIN_TOKEN);
    expect(ok.headers['cache-control']).toBe('no-store');
    cookie = set.split(';')[0]!;
    expect((await call('GET', '/console/session', { cookie })).json).toMatchObject({ bots: ['acme'] });
  });

  it('lets the session read the admin API, and change things only with the console header', async () => {
    expect((await call('GET', '/admin/attendances', { cookie })).json.attendances[0].id).toBe(attendanceId);
    const crossSite = await call('POST', `/admin/attendances/${attendanceId}/close`, { cookie }, {});
    expect(crossSite.status).toBe(401);
    expect(crossSite.json.error.detail).toMatch(/x-bridge-console/);
    expect((await h.admin('GET', `/admin/attendances/${attendanceId}`)).body.state).toBe('open');
    const tampered = cookie.replace(/v1\.(\d+)\./, (_m, t: string) => `v1.${Number(t) + 1000}.`);
    expect((await call('GET', '/admin/attendances', { cookie: tampered })).status).toBe(401);
    // A wrong bearer token is refused even with a good cookie: no mixing of credentials.
    expect((await call('GET', '/admin/attendances', { cookie, authorization: 'Bearer nope' })).status).toBe(401);
  });

  it('ends a session at its expiry and when the admin token changes', () => {
    let now = 1_000_000;
    const s = new ConsoleSessions(ADMIN_TOKEN, true, () => now);
    const issued = s.issue();
    expect(issued.cookie).toMatch(/; Secure$/);
    const req = (c: string) => ({ headers: { cookie: c.split(';')[0] } }) as never;
    expect(s.sessionOf(req(issued.cookie))).toBe(issued.expiresAt);
    expect(new ConsoleSessions('another-token-0123456789', true, () => now).sessionOf(req(issued.cookie))).toBeUndefined();
    now += SESSION_TTL_MS;
    expect(s.sessionOf(req(issued.cookie))).toBeUndefined();
  });

  it('shows each bot with its checks, attendances, backlog and metrics, and the bot transcript', async () => {
    const bots = await call('GET', '/admin/bots', { cookie });
    expect(bots.status).toBe(200);
    const acme = bots.json.bots[0];
    expect(acme).toMatchObject({ id: 'acme', helpdesk: 'webhook', attendances: { open: 1 }, backlog: { dead: 0 } });
    expect(acme.metrics).toEqual(expect.arrayContaining([{ name: 'bridge_attendances_open', labels: { state: 'open' }, value: 1 }]));
    expect(bots.json.service.metrics).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'bridge_inbound_total', labels: { route: 'blip-message', outcome: 'accepted' }, value: 1 })]));
    expect(bots.json.service.latency).toEqual(expect.arrayContaining([expect.objectContaining({ lane: 'to-helpdesk', count: expect.any(Number) })]));
    const check = await call('POST', '/admin/bots/acme/check', { cookie, 'x-bridge-console': '1' });
    expect(check.json).toMatchObject({ bot: 'acme', blip: { ok: true }, helpdesk: { type: 'webhook' } });
    expect((await call('POST', '/admin/bots/nope/check', { authorization: `Bearer ${ADMIN_TOKEN}` })).json.error.code).toBe('BRIDGE_ERR_UNKNOWN_BOT');
    const t = await call('GET', `/admin/attendances/${attendanceId}/transcript`, { cookie });
    expect(t.json.transcript).toEqual(expect.arrayContaining([expect.objectContaining({ direction: 'bot', content: expect.objectContaining({ text: 'Hi! I am the bot.' }) })]));
    expect((await call('GET', '/admin/attendances/nope/transcript', { cookie })).status).toBe(404);
    expect(JSON.stringify(bots.json) + JSON.stringify(check.json)).not.toContain(ADMIN_TOKEN);
  });

  it('logs out', async () => {
    const out = await call('DELETE', '/console/session', { cookie, 'x-bridge-console': '1' });
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^bridge_console=; .*Max-Age=0/);
  });
});
