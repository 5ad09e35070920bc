/**
 * Properties of the LIME parser and the content conversions (issue 5, fault suite), with fast-check:
 * - `limeToContent` never throws, for any type and any JSON value, nor for LIME-shaped documents
 *   whose fields are right, wrong or missing at any depth; it yields a canonical content the
 *   published `Content` schema accepts, a chat state, or `invalid` with a short error;
 * - text round-trips: what a text content reads is what `contentToLime` sends, and back;
 * - whatever canonical content an agent sends becomes LIME that Blip accepts and that parses back
 *   without loss of its readable text;
 * - the Blip inbound routes never answer 5xx, whatever the body, on SQLite and (where it is
 *   installed) PostgreSQL.
 * Runs in `npm test`; FC_RUNS sets the number of runs (default 500).
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invalidMessage } from '../../simulators/blip/validate.js';
import { buildApp, type BridgeApp } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { Content, type Content as ContentT } from '../../src/core/content.js';
import { contentToLime, limeToContent, readableText, type LimeInbound } from '../../src/core/convert.js';
import { MIME } from '../../src/lime/envelope.js';
import { BOT, INBOUND_TOKEN, rawConfig } from '../helpers/harness.js';
import { createTestDatabase, postgres, type TestDatabase } from '../helpers/postgres.js';

const RUNS = Number(process.env['FC_RUNS'] ?? 500);
const canonical = TypeCompiler.Compile(Content);
const MAX_TEXT = 65_536;

// ── arbitraries ────────────────────────────────────────────────────────────────────────────────

const KNOWN_TYPES = Object.values(MIME);
/** Known types, the same with parameters or odd case, and anything else. */
const mimeType = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KNOWN_TYPES) },
  { weight: 1, arbitrary: fc.constantFrom(...KNOWN_TYPES).map((t) => `${t.toUpperCase()}; charset=utf-8`) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'application/x-unknown+json', 'image/png', 'text/html', ';', 'text/plain;;') },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
);

const json = fc.jsonValue({ maxDepth: 3 });
/** A field as senders get it wrong: right, missing, null, or any other JSON value. */
const maybe = <T>(right: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 12, arbitrary: right as fc.Arbitrary<unknown> }, fc.constant(undefined), fc.constant(null), json);
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constantFrom('', '   ', '\n', 'a\u0000b', '\ud800'));
const url = fc.oneof(fc.webUrl(), fc.string({ maxLength: 30 }), fc.constant('x'.repeat(9000)));
const record = <T extends Record<string, fc.Arbitrary<unknown>>>(fields: T) =>
  fc.record(fields, { requiredKeys: [] }).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));

/** `{type, content}` LIME documents, nested up to a few levels, most of them nearly right. */
const { doc } = fc.letrec<{ doc: { type: string; content: unknown }; container: Record<string, unknown> }>((tie) => ({
  container: record({ type: maybe(mimeType), value: tie('doc').map((d) => d.content) }),
  doc: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ type: mimeType, content: json }),
    fc.record({ type: fc.constant(MIME.text), content: maybe(text) }),
    fc.record({
      type: fc.constant(MIME.mediaLink),
      content: record({
        uri: maybe(url),
        type: maybe(fc.oneof(fc.constantFrom('image/jpeg', 'audio/ogg', ''), fc.string({ maxLength: 300 }))),
        size: maybe(fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.stringMatching(/^[0-9]{1,20}$/))),
        title: maybe(text),
        text: maybe(text),
      }),
    }),
    fc.record({ type: fc.constant(MIME.webLink), content: record({ uri: maybe(url), title: maybe(text), text: maybe(text) }) }),
    fc.record({
      type: fc.constant(MIME.location),
      content: record({ latitude: maybe(fc.double({ min: -100, max: 100 })), longitude: maybe(fc.double({ min: -200, max: 200 })), text: maybe(text) }),
    }),
    fc.record({
      type: fc.constant(MIME.select),
      content: record({
        text: maybe(text),
        scope: maybe(fc.constantFrom('immediate', 'persistent')),
        options: maybe(fc.array(record({ text: maybe(text), order: maybe(fc.nat()), type: maybe(mimeType), value: maybe(json) }), { maxLength: 120 })),
      }),
    }),
    fc.record({
      type: fc.constant(MIME.documentSelect),
      content: record({
        header: maybe(tie('container')),
        options: maybe(fc.array(record({ label: maybe(tie('container')), value: maybe(tie('container')) }), { maxLength: 5 })),
      }),
    }),
    fc.record({
      type: fc.constant(MIME.collection),
      content: record({ itemType: maybe(mimeType), items: maybe(fc.array(tie('doc').map((d) => d.content), { maxLength: 5 })) }),
    }),
    fc.record({ type: fc.constantFrom(MIME.container, MIME.sensitive), content: maybe(tie('container')) }),
    fc.record({ type: fc.constant(MIME.list), content: record({ header: maybe(tie('container')), items: maybe(fc.array(tie('container'), { maxLength: 5 })) }) }),
    fc.record({ type: fc.constant(MIME.chatstate), content: record({ state: maybe(fc.constantFrom('starting', 'composing', 'paused', 'deleting', 'gone', 'stopped')) }) }),
    fc.record({ type: fc.constant(MIME.input), content: record({ label: maybe(tie('container')) }) }),
    fc.record({
      type: fc.constant(MIME.reply),
      content: record({ replied: maybe(tie('container')), inReplyTo: maybe(record({ id: maybe(text), type: maybe(mimeType), value: maybe(tie('doc').map((d) => d.content)) })) }),
    }),
    fc.record({
      type: fc.constant(MIME.reaction),
      content: record({
        emoji: maybe(record({ values: maybe(fc.array(fc.oneof(fc.integer({ min: 0, max: 0x10ffff }), fc.integer(), fc.constant(0xd800)), { maxLength: 70 })) })),
        inReactionTo: maybe(record({ id: maybe(text), type: maybe(mimeType), value: maybe(tie('doc').map((d) => d.content)) })),
      }),
    }),
    fc.record({ type: fc.constant(MIME.redirect), content: record({ address: maybe(text), context: maybe(tie('container')) }) }),
    fc.record({ type: fc.constant(MIME.resource), content: record({ key: maybe(text) }) }),
    fc.record({
      type: fc.constant(MIME.contact),
      content: record({ name: maybe(text), firstName: maybe(text), lastName: maybe(text), phoneNumber: maybe(text), cellPhoneNumber: maybe(text), email: maybe(text) }),
    }),
  ),
}));

/** Canonical contents as an agent may send them (valid against the published schema). */
const str = (max: number) => fc.string({ maxLength: Math.min(max, 200) });
const agentContent: fc.Arbitrary<ContentT> = fc.oneof(
  fc.record({ type: fc.constant('text' as const), text: fc.oneof(str(MAX_TEXT), fc.string({ unit: 'grapheme', maxLength: 50 })) }),
  fc.record(
    { type: fc.constant('media' as const), text: str(MAX_TEXT), url: fc.oneof(fc.webUrl(), fc.string({ minLength: 1, maxLength: 100 })), mimeType: fc.string({ minLength: 1, maxLength: 255 }), name: str(1024), size: fc.nat(), caption: str(MAX_TEXT) },
    { requiredKeys: ['type', 'text', 'url', 'mimeType'] },
  ),
  fc.record(
    { type: fc.constant('location' as const), text: str(MAX_TEXT), latitude: fc.double({ min: -90, max: 90, noNaN: true }), longitude: fc.double({ min: -180, max: 180, noNaN: true }), name: str(1024), address: str(2048) },
    { requiredKeys: ['type', 'text', 'latitude', 'longitude'] },
  ),
  fc.record({ type: fc.constant('contact' as const), text: str(MAX_TEXT), name: str(1024), phone: str(64), email: str(320) }, { requiredKeys: ['type', 'text', 'name'] }),
  fc.record(
    {
      type: fc.constant('choices' as const),
      text: str(MAX_TEXT),
      prompt: str(MAX_TEXT),
            // Blank labels are read back as "Option n"; that normalisation is not what this property is about.
      options: fc.array(fc.record({ label: fc.string({ minLength: 1, maxLength: 100 }).filter((l) => l.trim() !== ''), value: str(1024) }, { requiredKeys: ['label'] }), { minLength: 1, maxLength: 100 }),
    },
    { requiredKeys: ['type', 'text', 'options'] },
  ),
  fc.record(
    { type: fc.constant('reply' as const), text: str(MAX_TEXT), reply: str(MAX_TEXT), inReplyTo: fc.record({ id: str(1024), text: str(MAX_TEXT) }, { requiredKeys: ['text'] }) },
    { requiredKeys: ['type', 'text', 'inReplyTo'] },
  ),
  fc.record({ type: fc.constant('unsupported' as const), text: str(MAX_TEXT), mimeType: str(255) }),
) as fc.Arbitrary<ContentT>;

// ── helpers ────────────────────────────────────────────────────────────────────────────────────

function problems(result: LimeInbound): string[] {
  switch (result.kind) {
    case 'content':
      return [...canonical.Errors(result.content)].map((e) => `content${e.path}: ${e.message}`);
    case 'chatstate':
      return result.state === 'typing' || result.state === 'paused' ? [] : [`chatstate ${String(result.state)}`];
    case 'invalid':
      return typeof result.error === 'string' && result.error.length > 0 && result.error.length <= 300 ? [] : [`invalid error ${JSON.stringify(result.error)}`];
    default:
      return [`unknown result ${JSON.stringify(result)}`];
  }
}

/** `n` CJK characters (3 bytes each in UTF-8) in a fixed order that does not compress. */
function scatteredCjk(n: number): string {
  let x = 12_345;
  let out = '';
  for (let i = 0; i < n; i++) {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    out += String.fromCharCode(0x4e00 + (x % 0x5000));
  }
  return out;
}

/** The readable text of a LIME document we send, as the customer's channel shows it. */
function shown(lime: { type: string; content: unknown }): string {
  const back = limeToContent(lime.type, lime.content);
  if (back.kind !== 'content') throw new Error(`our own LIME does not parse: ${JSON.stringify(back)}`);
  return back.content.text;
}

// ── properties ─────────────────────────────────────────────────────────────────────────────────

describe('limeToContent (properties)', () => {
  it('never throws for any type and any JSON value; always a canonical content, a chat state or a short error', () => {
    fc.assert(
      fc.property(mimeType, json, (type, content) => {
        expect(problems(limeToContent(type, content))).toEqual([]);
        expect(typeof readableText(type, content)).toBe('string');
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws for LIME-shaped documents with right, wrong and missing fields at any depth', () => {
    fc.assert(
      fc.property(doc, ({ type, content }) => {
        expect(problems(limeToContent(type, content))).toEqual([]);
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('never throws for values JSON cannot carry (cycles, BigInt, functions, getters that throw)', () => {
    const cyclic: Record<string, unknown> = { uri: 'https://x/y' };
    cyclic['self'] = cyclic;
    const trap = Object.defineProperty({}, 'uri', {
      get() {
        throw new Error('boom');
      },
      enumerable: true,
    });
    fc.assert(
      fc.property(mimeType, fc.constantFrom<unknown>(cyclic, trap, 10n, () => 1, Symbol('s'), [cyclic]), (type, content) => {
        expect(problems(limeToContent(type, content))).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('content conversions (properties)', () => {
  it('text round-trips: the readable text of a text content is what reaches the customer, and reads the same back', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' })), (s) => {
        const first = limeToContent(MIME.text, s);
        if (first.kind !== 'content' || first.content.type !== 'text') throw new Error(`text/plain gave ${JSON.stringify(first)}`);
        expect(first.content.text).toBe(s);
        const lime = contentToLime(first.content);
        expect(lime).toEqual({ type: MIME.text, content: s });
        expect(limeToContent(lime.type, lime.content)).toEqual(first);
      }),
      { numRuns: RUNS },
    );
  });

  it('every text content parsed from any document goes back to LIME as exactly its readable text', () => {
    fc.assert(
      fc.property(doc, ({ type, content }) => {
        const r = limeToContent(type, content);
        if (r.kind !== 'content') return;
        const lime = contentToLime(r.content);
        if (r.content.type === 'text' || r.content.type === 'unsupported') expect(lime).toEqual({ type: MIME.text, content: r.content.text });
        // Whatever it was, what we would send parses back.
        expect(problems(limeToContent(lime.type, lime.content))).toEqual([]);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('any canonical content an agent sends becomes LIME that Blip accepts and that reads back as its text', () => {
    fc.assert(
      fc.property(agentContent, (c) => {
        expect([...canonical.Errors(c)]).toEqual([]);
        const lime = contentToLime(c);
        expect(invalidMessage({ id: 'x', to: 'someone@tunnel.msging.net', type: lime.type, content: lime.content })).toBeUndefined();
        const back = limeToContent(lime.type, lime.content);
        expect(problems(back)).toEqual([]);
        expect(back.kind).toBe('content');
        if (c.type === 'text' || c.type === 'unsupported') expect(shown(lime)).toBe(c.text);
        if ((c.type === 'contact' || c.type === 'reply') && c.text.trim() !== '') expect(shown(lime)).toBe(c.text);
        if (c.type === 'media' && back.kind === 'content' && back.content.type === 'media') expect(back.content.url).toBe(c.url);
        if (c.type === 'choices' && back.kind === 'content' && back.content.type === 'choices') expect(back.content.options.map((o) => o.label)).toEqual(c.options.map((o) => o.label));
      }),
      { numRuns: RUNS },
    );
  });
});

const pg = await postgres();
const engines = ['sqlite', ...(pg.ok ? ['postgres'] : [])];

describe.each(engines)('the Blip inbound routes on %s (properties)', (engine) => {
  let running: BridgeApp | undefined;
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = engine === 'postgres' ? await createTestDatabase() : undefined;
    const raw = rawConfig('http://127.0.0.1:9', 'http://127.0.0.1:9', '/nonexistent', { storeUrl: database?.url ?? 'sqlite::memory:' });
    running = await buildApp(parseConfig(raw, 'test'), { logger: pino({ level: 'silent' }), worker: false });
  });
  afterAll(async () => {
    await running?.close();
    await database?.drop();
  });

  const envelopeLike = fc.record(
    {
      id: maybe(fc.oneof(fc.uuid(), text)),
      from: maybe(fc.oneof(fc.uuid().map((u) => `${u}@tunnel.msging.net`), text)),
      to: maybe(text),
      type: maybe(mimeType),
      content: maybe(doc.map((d) => d.content)),
      metadata: maybe(fc.dictionary(fc.string({ maxLength: 20 }), fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), json), { maxKeys: 5 })),
      event: maybe(fc.constantFrom('received', 'consumed', 'failed', 'bogus')),
    },
    { requiredKeys: [] },
  );
  /** A well-formed envelope with any document inside, so the store path runs too. */
  // Ids and addresses anywhere within the schema's limits (1024 characters, any code point).
  const ident = fc.oneof({ weight: 4, arbitrary: fc.uuid() }, fc.string({ unit: 'binary', minLength: 1, maxLength: 1024 }));
  const wellFormed = fc
    .tuple(ident, fc.oneof({ weight: 4, arbitrary: fc.uuid().map((u) => `${u}@tunnel.msging.net`) }, ident), doc)
    .map(([id, from, d]) => ({ id, from, to: 'acmehuman@msging.net', type: d.type, content: d.content }));
  const body = fc.oneof(
    wellFormed.map((e) => JSON.stringify(e)),
    envelopeLike.map((e) => JSON.stringify(e)),
    json.map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  );
  const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/vnd.lime+json', 'text/plain', 'application/octet-stream', undefined);

  it('never answer 5xx, and every refusal is a coded 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('messages', 'notifications'), body, contentType, async (route, payload, type) => {
        const res = await running!.app.inject({
          method: 'POST',
          url: `/blip/${BOT}/${route}`,
          headers: { authorization: `Bearer ${INBOUND_TOKEN}`, ...(type ? { 'content-type': type } : {}) },
          payload,
        });
        expect(res.statusCode, res.body).toBeLessThan(500);
        if (res.statusCode >= 400) expect(JSON.parse(res.body).error.code).toMatch(/^BRIDGE_ERR_/);
        else expect(res.statusCode).toBe(202);
      }),
      {
        numRuns: RUNS,
        // Always tried first: NUL and 3-byte characters in ids and addresses the schema allows.
        examples: [
          ['notifications', JSON.stringify({ id: 'a\u0000b', event: 'received' }), 'application/json'],
          ['messages', JSON.stringify({ id: 'a\u0000b', from: 'x@tunnel.msging.net', type: 'text/plain', content: 'hi' }), 'application/json'],
          ['messages', JSON.stringify({ id: scatteredCjk(1024), from: 'y@tunnel.msging.net', type: 'text/plain', content: 'hi' }), 'application/json'],
        ],
      },
    );
  });
});
