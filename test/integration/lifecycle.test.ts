/**
 * The attendance lifecycle (issue 10), over real HTTP with the custom tool, with an injected clock:
 * time is moved, never waited for, and the due timers are fired on demand (the runner's own loop
 * would fire them too; firing is exactly-once either way).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IDENTIFIER, startHarness, until, type Harness, type HarnessOptions } from '../helpers/harness.js';
import { TestClock } from '../helpers/clock.js';

const REDIRECT = 'application/vnd.lime.redirect+json';
const ANA = '5511988880001@wa.gw.msging.net';
/** Monday 8 March 2027, 10:00 in São Paulo (UTC−3, no daylight saving since 2019). */
const MONDAY_10H = Date.parse('2027-03-08T13:00:00Z');

const MESSAGES = {
  opened: 'You are talking to a person.',
  closed: 'Bye!',
  reminder: 'Are you still there?',
  inactive: 'Closing for inactivity.',
  waiting: 'Still looking for an agent…',
  noAgents: 'Nobody can take it now.',
  outsideHours: 'We are closed: 08:00–18:00 on weekdays.',
};

describe('the attendance lifecycle', () => {
  let h: Harness;
  let clock: TestClock;
  afterEach(async () => h?.stop());

  async function start(attendance: Record<string, unknown>, extra: HarnessOptions['bot'] = {}, at = MONDAY_10H): Promise<void> {
    clock = new TestClock(at);
    h = await startHarness({ clock, bot: { blip: { returnTo: 'principal' }, attendance: { messages: MESSAGES, ...attendance }, ...extra } });
  }

  /** What the customer received, texts and Redirects, in order. */
  function received(customer = ANA): string[] {
    return h.blip.messagesTo(customer).map((r) => (r.body.type === REDIRECT ? 'REDIRECT' : typeof r.body.content === 'string' ? r.body.content : r.body.type));
  }

  async function handOff(text = 'I need a person', customer = ANA): Promise<string> {
    h.blip.addCustomer({ originator: customer });
    await h.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: text });
    await h.tool.waitFor((t) => t.eventsOfType('attendance.opened').some((e) => e.data.customer.originator === customer));
    const id = h.tool.eventsOfType('attendance.opened').find((e) => e.data.customer.originator === customer)!.data.attendance.id;
    // The open's completion (state open, the greeting queued) commits just after the tool answers.
    await until(async () => (await h.admin('GET', `/admin/attendances/${id}`)).body.state === 'open', 5000, 'open');
    return id;
  }

  async function later(by: string): Promise<void> {
    // Moving the clock past the leases of attempts in flight would make them look abandoned (a
    // frozen replica's): let the lanes settle first, as real time would.
    await until(async () => h.bridge.worker.inFlight === 0 && (await h.bridge.store.listDeliveries({ state: 'pending', limit: 1 })).length === 0, 5000, 'lanes idle');
    clock.advance(by);
    await h.bridge.bridge.timers.runDue();
  }

  async function closedWith(id: string): Promise<string> {
    await until(async () => (await h.admin('GET', `/admin/attendances/${id}`)).body.state === 'closed', 5000, `attendance ${id} closed`);
    return (await h.admin('GET', `/admin/attendances/${id}`)).body.closeReason;
  }

  async function timers(id: string): Promise<string[]> {
    return (await h.bridge.store.timersOf(id)).map((t) => t.kind).sort();
  }

  describe('customer inactivity', () => {
    it('after an agent message: a reminder at remindAfter, then the close at closeAfter, told to everyone', async () => {
      await start({ inactivity: { remindAfter: '5m', closeAfter: '10m' } });
      const id = await handOff();
      await h.tool.reply(id, 'How can I help?');
      await until(() => received().includes('How can I help?'), 5000, 'the agent reply');

      await later('4m');
      expect(received()).not.toContain(MESSAGES.reminder);
      await later('1m');
      await until(() => received().includes(MESSAGES.reminder), 5000, 'the reminder');
      expect(await h.admin('GET', `/admin/attendances/${id}`)).toMatchObject({ body: { state: 'open' } });

      await later('5m');
      expect(await closedWith(id)).toBe('customer-inactive');
      expect(received()).toEqual([MESSAGES.opened, 'How can I help?', MESSAGES.reminder, MESSAGES.inactive, 'REDIRECT']);
      // The helpdesk is told, with the reason; Blip Desk's own status for an inactive client.
      await h.tool.waitFor((t) => t.eventsOfType('attendance.closed').length === 1);
      expect(h.tool.eventsOfType('attendance.closed')[0]!.data).toMatchObject({ attendanceId: id, reason: 'customer-inactive' });
      const redirect = h.blip.messagesTo(ANA).find((r) => r.body.type === REDIRECT)!;
      expect(redirect.body.content.context).toMatchObject({ type: 'application/vnd.iris.ticket+json', value: { status: 'ClosedClientInactivity', closeReason: 'customer-inactive', id } });
      const metrics = await h.get('/metrics');
      expect(metrics.text).toMatch(/bridge_attendances_closed_total\{bot="acme",reason="customer-inactive"\} 1/);
      expect(await timers(id)).toEqual([]);
      // The admin API filters by close reason.
      expect((await h.admin('GET', '/admin/attendances?reason=customer-inactive')).body.attendances.map((a: { id: string }) => a.id)).toEqual([id]);
      expect((await h.admin('GET', '/admin/attendances?reason=admin')).body.attendances).toEqual([]);
      expect((await h.admin('GET', '/admin/attendances?reason=timeout')).status).toBe(400);
    });

    it('a customer message cancels it (keepWhileCustomerWaits): a customer waiting for an answer is never closed', async () => {
      await start({ inactivity: { remindAfter: '5m', closeAfter: '10m', keepWhileCustomerWaits: true } });
      const id = await handOff();
      await h.tool.reply(id, 'What is your order number?');
      await until(() => received().includes('What is your order number?'));
      expect(await timers(id)).toEqual(['inactivity-close', 'inactivity-remind']);
      await later('3m');
      await h.blip.customerSays(ANA, IDENTIFIER, { type: 'text/plain', content: '12345' });
      await until(async () => (await timers(id)).length === 0, 5000, 'timers cancelled');
      await later('3d');
      expect((await h.admin('GET', `/admin/attendances/${id}`)).body.state).toBe('open');
      expect(received()).not.toContain(MESSAGES.reminder);
      // The agent's next message starts the clock again.
      await h.tool.reply(id, 'Thanks, checking.');
      await until(async () => (await timers(id)).length === 2, 5000, 'timers re-armed');
      await later('10m');
      expect(await closedWith(id)).toBe('customer-inactive');
    });

    it('keepWhileCustomerWaits: false counts any silence, the customer’s included', async () => {
      await start({ inactivity: { closeAfter: '10m', keepWhileCustomerWaits: false } });
      const id = await handOff();
      await h.tool.reply(id, 'Hello');
      await until(() => received().includes('Hello'));
      await later('8m');
      await h.blip.customerSays(ANA, IDENTIFIER, { type: 'text/plain', content: 'still there?' });
      await until(async () => (await h.bridge.store.timersOf(id))[0]!.due_at > clock.now() + 9 * 60_000, 5000, 'the close re-armed from the customer message');
      await later('9m');
      expect((await h.admin('GET', `/admin/attendances/${id}`)).body.state).toBe('open');
      await later('1m');
      expect(await closedWith(id)).toBe('customer-inactive');
    });
  });

  describe('waiting for an agent', () => {
    it('tells the customer every notifyAfter, then hands back at handBackAfter with reason no-agent', async () => {
      await start({ waitingForAgent: { notifyAfter: '3m', handBackAfter: '10m' } });
      const id = await handOff();
      await later('3m');
      await later('3m');
      await later('3m');
      await until(() => received().filter((t) => t === MESSAGES.waiting).length === 3, 5000, 'three waiting notices');
      await later('1m');
      expect(await closedWith(id)).toBe('no-agent');
      expect(received()).toEqual([MESSAGES.opened, MESSAGES.waiting, MESSAGES.waiting, MESSAGES.waiting, MESSAGES.noAgents, 'REDIRECT']);
      await h.tool.waitFor((t) => t.eventsOfType('attendance.closed').some((e) => e.data.reason === 'no-agent'));
    });

    it('the first agent message stops both clocks', async () => {
      await start({ waitingForAgent: { notifyAfter: '3m', handBackAfter: '10m' } });
      const id = await handOff();
      await h.tool.reply(id, 'Hi, I am Bia.');
      await until(async () => (await timers(id)).length === 0, 5000, 'waiting timers cancelled');
      await later('1d');
      expect((await h.admin('GET', `/admin/attendances/${id}`)).body.state).toBe('open');
      expect(received()).not.toContain(MESSAGES.waiting);
    });

    it('a helpdesk that says no agent is available hands the customer back at once when handBackAfter is set', async () => {
      await start({ waitingForAgent: { handBackAfter: '30m' } });
      const id = await handOff();
      const out = await h.bridge.bridge.receiveHelpdeskEvents('acme', [{ kind: 'no-agent', eventId: 'na-1', attendance: { id } }]);
      expect(out.accepted).toBe(1);
      expect(await closedWith(id)).toBe('no-agent');
      expect(received().slice(-2)).toEqual([MESSAGES.noAgents, 'REDIRECT']);
    });

    it('without handBackAfter, the no-agent notice is told and the customer keeps waiting', async () => {
      await start({});
      const id = await handOff();
      await h.bridge.bridge.receiveHelpdeskEvents('acme', [{ kind: 'no-agent', eventId: 'na-2', attendance: { id }, text: 'All agents are busy.' }]);
      await until(() => received().includes('All agents are busy.'));
      expect((await h.admin('GET', `/admin/attendances/${id}`)).body.state).toBe('open');
    });
  });

  describe('business hours', () => {
    const hours = { timeZone: 'America/Sao_Paulo', hours: { 'mon-fri': ['08:00-12:00', '13:00-18:00'], sat: ['09:00-13:00'] }, holidays: ['2027-03-09'] };

    it('outside hours with handback: the customer is told and redirected at once; nothing opens in the helpdesk', async () => {
      await start({ ...hours, outsideHours: 'handback' }, {}, Date.parse('2027-03-08T15:30:00Z')); // Monday 12:30, lunch
      h.blip.addCustomer({ originator: ANA });
      const said = await h.blip.customerSays(ANA, IDENTIFIER, { type: 'text/plain', content: 'hello?' });
      expect(said.status).toBe(202);
      await until(() => received().includes('REDIRECT'), 5000, 'the Redirect');
      expect(received()).toEqual([MESSAGES.outsideHours, 'REDIRECT']);
      const redirect = h.blip.messagesTo(ANA).find((r) => r.body.type === REDIRECT)!;
      expect(redirect.body.content.context.value).toMatchObject({ closeReason: 'outside-hours' });
      expect(redirect.body.content.context.value.externalId).toBeUndefined();
      // Blip hears the message was taken care of, once.
      await h.blip.waitFor((r) => r.kind === 'notification' && r.body.id === said.id && r.body.event === 'consumed', 5000);
      const list = await h.admin('GET', '/admin/attendances');
      expect(await closedWith(list.body.attendances[0].id)).toBe('outside-hours');
      expect(h.tool.events).toHaveLength(0);
    });

    it('holidays are closed all day; inside a slot the attendance opens', async () => {
      await start({ ...hours }, {}, Date.parse('2027-03-09T14:00:00Z')); // a Tuesday made a holiday, 11:00
      h.blip.addCustomer({ originator: ANA });
      await h.blip.customerSays(ANA, IDENTIFIER, { type: 'text/plain', content: 'anyone?' });
      const first = (await h.admin('GET', '/admin/attendances')).body.attendances[0].id;
      expect(await closedWith(first)).toBe('outside-hours');
      clock.advance('1d'); // Wednesday, 11:00
      h.blip.handOff(ANA, IDENTIFIER); // the main bot sends them to us again
      await h.blip.customerSays(ANA, IDENTIFIER, { type: 'text/plain', content: 'back' });
      await h.tool.waitFor((t) => t.eventsOfType('attendance.opened').length === 1);
    });

    it('outside hours with open: the attendance opens anyway and the customer is told', async () => {
      await start({ ...hours, outsideHours: 'open' }, {}, Date.parse('2027-03-07T15:00:00Z')); // Sunday
      const id = await handOff();
      await until(() => received().includes(MESSAGES.outsideHours));
      expect((await h.admin('GET', `/admin/attendances/${id}`)).body.state).toBe('open');
    });
  });

  it('maxDuration closes with reason expired, whatever else is going on', async () => {
    await start({ maxDuration: '72h' });
    const id = await handOff();
    await h.tool.reply(id, 'on it');
    await later('71h');
    expect((await h.admin('GET', `/admin/attendances/${id}`)).body.state).toBe('open');
    await later('1h');
    expect(await closedWith(id)).toBe('expired');
    await h.tool.waitFor((t) => t.eventsOfType('attendance.closed').some((e) => e.data.reason === 'expired'));
  });

  describe('the Redirect’s context', () => {
    it('json: the bridge’s own summary, with the wait and handle times', async () => {
      await start({}, { blip: { returnTo: 'principal', redirectContext: 'json' } });
      const id = await handOff();
      clock.advance('2m');
      await h.tool.reply(id, 'Hi!', { agent: { id: 'ag-7', name: 'Bia' } });
      await until(() => received().includes('Hi!'));
      clock.advance('5m');
      await h.tool.end(id);
      await until(() => received().includes('REDIRECT'));
      const redirect = h.blip.messagesTo(ANA).find((r) => r.body.type === REDIRECT)!;
      expect(redirect.body.content.context.type).toBe('application/json');
      expect(redirect.body.content.context.value).toMatchObject({ attendanceId: id, bot: 'acme', helpdesk: { type: 'webhook', id }, reason: 'agent', waitSeconds: 120, handleSeconds: 300 });
    });

    it('none: a bare Redirect', async () => {
      await start({}, { blip: { returnTo: 'principal', redirectContext: 'none' } });
      const id = await handOff();
      await h.tool.end(id);
      await until(() => received().includes('REDIRECT'));
      expect(h.blip.messagesTo(ANA).find((r) => r.body.type === REDIRECT)!.body.content).toEqual({ address: 'principal' });
    });
  });

  it('an operator’s close: farewell, the helpdesk told with reason admin, the Redirect; timers gone', async () => {
    await start({ inactivity: { closeAfter: '10m' }, maxDuration: '1d' });
    const id = await handOff();
    await h.tool.reply(id, 'hello');
    await until(() => received().includes('hello'));
    expect(await timers(id)).toEqual(['expiry', 'inactivity-close']);
    const res = await h.admin('POST', `/admin/attendances/${id}/close`);
    expect(res.status).toBe(202);
    expect(await closedWith(id)).toBe('admin');
    expect(await timers(id)).toEqual([]);
    expect(received().slice(-2)).toEqual([MESSAGES.closed, 'REDIRECT']);
    await h.tool.waitFor((t) => t.eventsOfType('attendance.closed').some((e) => e.data.reason === 'admin'));
  });
});
