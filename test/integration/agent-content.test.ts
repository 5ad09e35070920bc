/**
 * An agent message the customer could not receive (empty text, media at a URL that is not http(s))
 * gets a coded 400 and nothing reaches Blip: from our own tool through its contract's schema, and
 * from any adapter through the one check after parsing (src/helpdesks/routes.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Content } from '../../src/core/content.js';
import { unsendable } from '../../src/core/content.js';
import type { HelpdeskEvent } from '../../src/helpdesks/adapter.js';
import { sendableOnly } from '../../src/helpdesks/routes.js';
import { BridgeError } from '../../src/http/errors.js';
import { IDENTIFIER, startHarness, until, type Harness } from '../helpers/harness.js';

const agentMessage = (content: Content): HelpdeskEvent => ({ kind: 'agent.message', eventId: 'e1', attendance: { id: 'a1' }, message: { id: 'm1', content } });
const media = (url: string): Content => ({ type: 'media', text: 'the file', url, mimeType: 'application/pdf' });

describe('unsendable agent contents', () => {
  it.each([
    ['an empty text', { type: 'text', text: '' } as Content, /empty/],
    ['a text of spaces and newlines', { type: 'text', text: ' \n\t ' } as Content, /empty/],
    ['an unsupported content with no fallback text', { type: 'unsupported', text: '', mimeType: 'x/y' } as Content, /empty/],
    ['choices with a blank prompt', { type: 'choices', text: ' ', options: [{ label: 'a' }] } as Content, /prompt/],
    ['media at ftp://', media('ftp://files.example.com/a.pdf'), /http\(s\)/],
    ['media at a relative path', media('/files/a.pdf'), /http\(s\)/],
    ['media at javascript:', media('javascript:alert(1)'), /http\(s\)/],
  ])('%s is refused with a reason', (_name, content, reason) => {
    expect(unsendable(content)).toMatch(reason);
  });

  it.each([
    ['a text', { type: 'text', text: 'hi' } as Content],
    ['media at https', media('https://files.example.com/a.pdf')],
    ['media at http', media('http://files.example.com/a.pdf')],
    ['choices with a prompt in `prompt` only', { type: 'choices', text: '', prompt: 'Pick one', options: [{ label: 'a' }] } as Content],
  ])('%s can be sent', (_name, content) => {
    expect(unsendable(content)).toBeUndefined();
  });

  it("our tool's contract gets a 400; a vendor that retries 4xx gets the event ignored, logged", () => {
    const bad = agentMessage({ type: 'text', text: '  ' });
    const good = agentMessage({ type: 'text', text: 'ok' });
    expect(() => sendableOnly([good, bad], 'reject', () => undefined)).toThrow(BridgeError);
    try {
      sendableOnly([bad], 'reject', () => undefined);
    } catch (err) {
      expect((err as BridgeError).code).toBe('BRIDGE_ERR_UNSENDABLE_CONTENT');
      expect((err as BridgeError).detail).toBe('agent message "m1": the text is empty');
    }
    const warned: string[] = [];
    const out = sendableOnly([good, bad], 'ignore', (r) => warned.push(r));
    expect(out).toEqual([good, { kind: 'ignored', reason: 'agent message "m1": the text is empty' }]);
    expect(warned).toEqual(['agent message "m1": the text is empty']);
  });
});

describe('through the custom tool (type: webhook)', () => {
  let h: Harness;
  let attendanceId = '';
  const customer = '5511999990021@wa.gw.msging.net';
  beforeAll(async () => {
    h = await startHarness();
    h.blip.addCustomer({ originator: customer });
    expect((await h.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'hello' })).status).toBe(202);
    const opened = await until(() => h.tool.eventsOfType('attendance.opened').find((e) => e.data.customer.originator === customer));
    attendanceId = opened.data.attendance.id;
  });
  afterAll(async () => h.stop());

  it.each([
    ['an empty text', { type: 'text', text: '' } as Content, '/data/message/content/text', /not be empty/],
    ['a text of spaces', { type: 'text', text: '   ' } as Content, '/data/message/content/text', /not be empty/],
    ['media at ftp://', media('ftp://files.example.com/a.pdf'), '/data/message/content/url', /http\(s\) URL/],
    ['choices with a blank prompt', { type: 'choices', text: '', options: [{ label: 'a' }] } as Content, '/data/message/content/text', /not be empty/],
  ])('%s: 400 naming the field, nothing sent to the customer', async (_name, content, path, message) => {
    const before = h.blip.received.messages.length;
    const answer = await h.tool.reply(attendanceId, content);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'BRIDGE_ERR_INVALID_EVENT' } });
    const detail = (answer.body as { error: { detail: string } }).error.detail;
    expect(detail.startsWith(`agent.message ${path}: `)).toBe(true);
    expect(detail).toMatch(message);
    // The next, valid reply is the first thing Blip gets after the refused one.
    const ok = await h.tool.reply(attendanceId, `after ${_name}`);
    expect(ok.status).toBe(202);
    await h.blip.waitFor((r) => r.body?.content === `after ${_name}`);
    expect(h.blip.received.messages.slice(before).filter((r) => r.body?.type !== 'application/vnd.lime.chatstate+json').map((r) => r.body?.content)).toEqual([`after ${_name}`]);
  });
});
