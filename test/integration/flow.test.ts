/**
 * The whole conversation over real HTTP: customer says → agent sees (with transcript and
 * customer data) → agent replies → customer gets → agent ends → customer is redirected.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IDENTIFIER, ROUTER, startHarness, until, type Harness } from '../helpers/harness.js';

const MARIA = '5511999990001@wa.gw.msging.net';

describe('the conversation, end to end', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ bot: { blip: { returnTo: 'principal' }, attendance: { messages: { closed: 'Bye from the team!' } } } });
  });
  afterEach(async () => h.stop());

  it('opens with customer data and transcript, relays both ways in order, ends with farewell and Redirect', async () => {
    const { tunnel } = h.blip.addCustomer({
      originator: MARIA,
      name: 'Maria Silva',
      email: 'maria@example.com',
      extras: { plan: 'Gold' },
      history: [
        { direction: 'received', type: 'text/plain', content: 'old 1' },
        { direction: 'sent', type: 'text/plain', content: 'old 2' },
        { direction: 'received', type: 'text/plain', content: 'Hi' },
        { direction: 'sent', type: 'application/vnd.lime.select+json', content: { text: 'How can I help?', options: [{ text: 'Billing' }, { text: 'A person' }] } },
        { direction: 'received', type: 'text/plain', content: 'A person' },
        { direction: 'sent', type: 'text/plain', content: 'Calling an agent' },
      ],
    });

    const first = await h.blip.customerSays(MARIA, IDENTIFIER, { type: 'text/plain', content: 'Hello, I need help' });
    expect(first.status).toBe(202);
    await h.blip.customerSays(MARIA, IDENTIFIER, { type: 'application/vnd.lime.location+json', content: { latitude: -23.5, longitude: -46.6, text: 'Home' } });
    await h.blip.customerSays(MARIA, IDENTIFIER, { type: 'application/vnd.lime.chatstate+json', content: { state: 'composing' } });
    await h.blip.customerSays(MARIA, IDENTIFIER, { type: 'text/plain', content: 'third' });

    await h.tool.waitFor((t) => t.eventsOfType('customer.message').length === 3);
    const opened = h.tool.eventsOfType('attendance.opened');
    expect(opened).toHaveLength(1);
    const o = opened[0]!.data;
    expect(o.customer).toMatchObject({ address: tunnel, originator: MARIA, router: `${ROUTER}@msging.net`, name: 'Maria Silva', email: 'maria@example.com', extras: { plan: 'Gold' } });
    // transcriptMessages: 5 → the last five of the bot conversation, oldest first, not the attendance's own messages.
    expect(o.transcript.map((t) => [t.direction, t.content.text])).toEqual([
      ['bot', 'old 2'],
      ['customer', 'Hi'],
      ['bot', 'How can I help?\n1. Billing\n2. A person'],
      ['customer', 'A person'],
      ['bot', 'Calling an agent'],
    ]);
    const attendanceId = o.attendance.id;

    // Order in the tool: opened first, then the messages as the customer sent them.
    const types = h.tool.events.map((e) => e.type);
    expect(types[0]).toBe('attendance.opened');
    const msgs = h.tool.eventsOfType('customer.message').map((e) => e.data.message.content);
    expect(msgs.map((c) => c.type)).toEqual(['text', 'location', 'text']);
    expect(msgs[1]).toMatchObject({ latitude: -23.5, longitude: -46.6 });
    expect(types).toContain('customer.typing');
    expect(types.indexOf('customer.typing')).toBeGreaterThan(types.indexOf('customer.message'));

    // Each customer message is acknowledged to Blip as consumed once the tool took it.
    const ids = h.blip.messagesTo(MARIA);
    await until(() => h.blip.received.notifications.filter((n) => n.body.event === 'consumed').length === 3, 5000, 'consumed notifications');
    for (const n of h.blip.received.notifications) expect(n.body.to).toBe(tunnel);
    void ids;

    // The agent answers: text, media, location, choices, and types.
    expect((await h.tool.typing(attendanceId, 'typing')).status).toBe(202);
    expect((await h.tool.reply(attendanceId, 'Hi Maria, how can I help?')).status).toBe(202);
    await h.tool.reply(attendanceId, { type: 'media', text: 'invoice', url: 'https://files.example.com/i.pdf', mimeType: 'application/pdf', name: 'i.pdf' });
    await h.tool.reply(attendanceId, { type: 'location', text: 'Our store', latitude: -23.56, longitude: -46.65, name: 'Our store' });
    await h.tool.reply(attendanceId, { type: 'choices', text: 'Did that help?', options: [{ label: 'Yes' }, { label: 'No', value: 'no' }] });
    // …and ends: the pending replies go first, then the farewell, then the Redirect.
    expect((await h.tool.end(attendanceId, 'solved')).status).toBe(202);

    const redirect = await h.blip.waitFor((r) => r.body?.type === 'application/vnd.lime.redirect+json', 5000);
    expect(redirect.body.to).toBe(tunnel);
    expect(redirect.body.content).toMatchObject({ address: 'principal', context: { type: 'application/vnd.iris.ticket+json', value: { status: 'ClosedAttendant', closeReason: 'agent' } } });
    expect(redirect.headers.authorization).toBe(h.blip.authorizationFor(IDENTIFIER));

    const toCustomer = h.blip.received.messages.filter((r) => r.body.to === tunnel && r.status === 202).map((r) => r.body);
    const kinds = toCustomer.map((m) => (m.type === 'text/plain' ? `text:${m.content}` : m.type));
    expect(kinds).toEqual([
      'application/vnd.lime.chatstate+json',
      'text:Hi Maria, how can I help?',
      'application/vnd.lime.media-link+json',
      'application/vnd.lime.location+json',
      'application/vnd.lime.select+json',
      'text:Bye from the team!',
      'application/vnd.lime.redirect+json',
    ]);
    expect(toCustomer[2].content).toMatchObject({ uri: 'https://files.example.com/i.pdf', type: 'application/pdf' });
    expect(toCustomer[4].content.options.map((x: { text: string }) => x.text)).toEqual(['Yes', 'No']);
    expect(h.blip.activeService(MARIA, ROUTER)).toBe('principal');

    // The tool hears that the attendance closed, and the attendance is closed.
    await h.tool.waitFor((t) => t.eventsOfType('attendance.closed').length === 1);
    expect(h.tool.eventsOfType('attendance.closed')[0]!.data).toMatchObject({ attendanceId, reason: 'agent' });
    const att = await until(async () => {
      const r = await h.admin('GET', `/admin/attendances/${attendanceId}`);
      return r.body.state === 'closed' && r.body;
    });
    expect(att.messages.filter((m: { direction: string }) => m.direction === 'customer')).toHaveLength(3);

    // After the end, the agent can no longer write, and a new message opens a new attendance.
    expect((await h.tool.reply(attendanceId, 'too late')).status).toBe(409);
    h.blip.handOff(MARIA, IDENTIFIER);
    await h.blip.customerSays(MARIA, IDENTIFIER, { type: 'text/plain', content: 'me again' });
    await h.tool.waitFor((t) => t.eventsOfType('attendance.opened').length === 2);
    expect(h.tool.eventsOfType('attendance.opened')[1]!.data.attendance.id).not.toBe(attendanceId);
  });
});
