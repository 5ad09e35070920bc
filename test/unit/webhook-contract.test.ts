/**
 * The custom-tool contract as published (docs/helpdesks/webhook.md, `GET /schemas/webhook/{event}.json`):
 * plain JSON Schema 2020-12 that Ajv compiles and that refuses what our own validator refuses, and a
 * doc whose examples validate and whose schema listings are current (UPDATE_WEBHOOK_DOCS=1 rewrites them).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import type { AttendanceInfo, Customer } from '../../src/helpdesks/adapter.js';
import { WEBHOOK_EVENTS, eventJsonSchema, validateEvent, type WebhookEventName } from '../../src/helpdesks/webhook/contract.js';

const attendance: AttendanceInfo = { id: 'att-1', bot: 'acme', openedAt: '2024-05-01T12:00:00.000Z' };
const customer: Customer = {
  id: '5511999990000@wa.gw.msging.net',
  address: 'c0ffee@tunnel.msging.net',
  originator: '5511999990000@wa.gw.msging.net',
  router: 'acmerouter@msging.net',
  channel: 'wa.gw.msging.net',
  name: 'Maria',
  extras: { plan: 'gold' },
};

describe('published JSON Schemas', () => {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats.default(ajv);

  const content = { type: 'text', text: 'hi' };
  const samples: Record<WebhookEventName, unknown> = {
    'attendance.opened': {
      type: 'attendance.opened',
      timestamp: '2024-05-01T12:00:00.000Z',
      data: { attendance, customer, transcript: [{ direction: 'customer', at: '2024-05-01T11:59:00Z', content }] },
    },
    'customer.message': { type: 'customer.message', timestamp: '2024-05-01T12:00:00Z', data: { attendanceId: 'a', message: { id: 'm', at: '2024-05-01T12:00:00Z', content } } },
    'customer.typing': { type: 'customer.typing', timestamp: '2024-05-01T12:00:00Z', data: { attendanceId: 'a', state: 'typing' } },
    'attendance.closed': { type: 'attendance.closed', timestamp: '2024-05-01T12:00:00Z', data: { attendanceId: 'a', reason: 'agent', closedAt: '2024-05-01T12:00:00Z' } },
    'agent.message.status': {
      type: 'agent.message.status',
      timestamp: '2024-05-01T12:00:00Z',
      data: { attendanceId: 'a', messageId: 't1', status: 'failed', code: 'BLIP_REFUSED', reason: 'Blip refused the message.' },
    },
    'agent.message': { type: 'agent.message', timestamp: '2024-05-01T12:00:00Z', data: { attendanceId: 'a', message: { id: 't1', content, agent: { id: 'ag', name: 'Ana' } } } },
    'agent.typing': { type: 'agent.typing', timestamp: '2024-05-01T12:00:00Z', data: { attendanceId: 'a', state: 'paused' } },
    'attendance.end': { type: 'attendance.end', timestamp: '2024-05-01T12:00:00Z', data: { attendanceId: 'a', reason: 'solved' } },
  };

  it.each(WEBHOOK_EVENTS.map((e) => [e]))('%s is plain JSON Schema 2020-12 that the sample satisfies', (name) => {
    const schema = eventJsonSchema(name, 'https://bridge.example.com/');
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe(`https://bridge.example.com/schemas/webhook/${name}.json`);
    const validate = ajv.compile(schema);
    const sample = samples[name];
    expect(validate(sample), JSON.stringify(validate.errors)).toBe(true);
    expect(validateEvent(name, sample).ok).toBe(true);
    // The published schema refuses what our validator refuses.
    const broken = structuredClone(sample) as { data: Record<string, unknown> };
    delete broken.data.attendanceId;
    delete broken.data.attendance;
    expect(validate(broken)).toBe(false);
    expect(validateEvent(name, broken).ok).toBe(false);
  });

  it('content schemas live in $defs and are referenced', () => {
    const schema = eventJsonSchema('agent.message') as { $defs?: Record<string, unknown>; $id?: string };
    expect(schema.$id).toBeUndefined();
    expect(Object.keys(schema.$defs ?? {}).sort()).toEqual(
      ['AgentChoicesContent', 'AgentContent', 'AgentMediaContent', 'AgentTextContent', 'ContactContent', 'LocationContent', 'ReplyContent', 'UnsupportedContent'],
    );
    expect(JSON.stringify(schema)).toContain('"$ref":"#/$defs/AgentContent"');
    expect(Object.keys((eventJsonSchema('customer.message') as { $defs?: Record<string, unknown> }).$defs ?? {})).toContain('Content');
    expect(eventJsonSchema('customer.typing')).not.toHaveProperty('$defs');
    const validate = ajv.compile({ ...schema, $id: 'urn:test:agent.message' });
    const agentSays = (content: unknown) => ({ type: 'agent.message', timestamp: '2024-05-01T12:00:00Z', data: { attendanceId: 'a', message: { id: 'x', content } } });
    expect(validate(agentSays({ type: 'media', text: 'x' }))).toBe(false);
    // What the customer could not receive is refused by the published schema as by ours.
    for (const content of [
      { type: 'text', text: '' },
      { type: 'text', text: ' \n\t' },
      { type: 'media', text: 'f', url: 'ftp://files.example.com/a.pdf', mimeType: 'application/pdf' },
      { type: 'media', text: 'f', url: 'file:///etc/passwd', mimeType: 'text/plain' },
      { type: 'choices', text: ' ', options: [{ label: 'a' }] },
    ]) {
      expect(validate(agentSays(content)), JSON.stringify(content)).toBe(false);
      expect(validateEvent('agent.message', agentSays(content)).ok, JSON.stringify(content)).toBe(false);
    }
    expect(validate(agentSays({ type: 'media', text: 'f', url: 'HTTPS://files.example.com/a.pdf', mimeType: 'application/pdf' }))).toBe(true);
  });

  it('every example in docs/helpdesks/webhook.md is a valid event', () => {
    const doc = readFileSync(new URL('../../docs/helpdesks/webhook.md', import.meta.url), 'utf8');
    for (const name of WEBHOOK_EVENTS) {
      const section = doc.split(`### \`${name}\``)[1]?.split('\n### ')[0] ?? '';
      const example = /```json\n([\s\S]*?)```/.exec(section)?.[1];
      expect(example, `no example for ${name}`).toBeDefined();
      const checked = validateEvent(name, JSON.parse(example ?? 'null'));
      expect(checked, name).toMatchObject({ ok: true });
    }
  });

  // The doc embeds each schema; regenerate with UPDATE_WEBHOOK_DOCS=1 after changing the contract.
  it('docs/helpdesks/webhook.md lists the current schemas', () => {
    const path = new URL('../../docs/helpdesks/webhook.md', import.meta.url);
    let doc = readFileSync(path, 'utf8');
    for (const name of WEBHOOK_EVENTS) {
      const block = `<!-- schema:${name} -->\n\`\`\`json\n${JSON.stringify(eventJsonSchema(name), null, 2)}\n\`\`\`\n<!-- /schema:${name} -->`;
      const re = new RegExp(`<!-- schema:${name.replace('.', '\\.')} -->[\\s\\S]*?<!-- /schema:${name.replace('.', '\\.')} -->`);
      expect(re.test(doc), `docs/helpdesks/webhook.md has no schema block for ${name}`).toBe(true);
      if (process.env.UPDATE_WEBHOOK_DOCS === '1') doc = doc.replace(re, () => block);
      else expect(doc.match(re)?.[0], `schema of ${name} in the doc is stale: run with UPDATE_WEBHOOK_DOCS=1`).toBe(block);
    }
    if (process.env.UPDATE_WEBHOOK_DOCS === '1') writeFileSync(path, doc);
  });
});
