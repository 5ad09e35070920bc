/** The small generic modules adapters share (src/helpdesks/kit/): splitting, notes, header and auth checks. */
import { describe, expect, it } from 'vitest';
import { CLOSE_REASONS } from '../../src/helpdesks/adapter.js';
import { basicMatches, hmac, signatureMatches } from '../../src/helpdesks/kit/auth.js';
import { header } from '../../src/helpdesks/kit/headers.js';
import { closeNote, failedNote } from '../../src/helpdesks/kit/notes.js';
import { splitText } from '../../src/helpdesks/kit/split.js';

describe('splitText', () => {
  it('a text within the limit is one part', () => {
    expect(splitText('hello', 5)).toEqual(['hello']);
  });

  it('splits at line breaks, then spaces, in order, losing only the separator it split at', () => {
    const text = 'first line\nsecond line is longer than that\nthird';
    const parts = splitText(text, 20);
    expect(parts.every((p) => p.length <= 20)).toBe(true);
    expect(parts).toEqual(['first line', 'second line is', 'longer than that', 'third']);
  });

  it('a word longer than the limit is split inside it, never inside a surrogate pair', () => {
    const text = `${'a'.repeat(9)}😀${'b'.repeat(5)}`;
    const parts = splitText(text, 10);
    expect(parts.join('')).toBe(text);
    expect(parts[0]).toBe('a'.repeat(9));
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(10);
  });

  it('a long text comes back whole, part by part', () => {
    const words = Array.from({ length: 500 }, (_, i) => `word${i}`).join(' ');
    const parts = splitText(words, 100);
    expect(parts.join(' ')).toBe(words);
  });
});

describe('notes for the agent', () => {
  it('every close reason has its sentence', () => {
    for (const r of CLOSE_REASONS) expect(closeNote(r)).toMatch(new RegExp(`^Blip: the customer was handed back to the bot \\(${r}: .+\\)\\.$`));
  });

  it('a failed reply names its code and reason, and quotes the reply shortly', () => {
    expect(failedNote({ code: 'BLIP_REFUSED', reason: 'window closed' })).toBe('Blip: a reply was not delivered to the customer (BLIP_REFUSED: window closed).');
    expect(failedNote({}, 'x'.repeat(100))).toMatch(/^Blip: your reply "x{77}…" was not delivered to the customer \(no reason given\)\.$/);
  });
});

describe('header and auth checks', () => {
  it('header: first value, any case of name', () => {
    expect(header({ 'x-a': ['1', '2'] }, 'X-A')).toBe('1');
    expect(header({}, 'x-a')).toBeUndefined();
  });

  it('basicMatches only the exact user:pass', () => {
    const b = `Basic ${Buffer.from('u:p:q').toString('base64')}`;
    expect(basicMatches(b, 'u', 'p:q')).toBe(true);
    expect(basicMatches(b, 'u', 'p')).toBe(false);
    expect(basicMatches(undefined, 'u', 'p:q')).toBe(false);
    expect(basicMatches('Bearer x', 'u', 'p:q')).toBe(false);
  });

  it('signatureMatches fails closed on absent or empty', () => {
    const sig = hmac('sha1', 'secret', Buffer.from('body'));
    expect(signatureMatches(sig.toUpperCase(), sig, { caseInsensitive: true })).toBe(true);
    expect(signatureMatches(sig.toUpperCase(), sig)).toBe(false);
    expect(signatureMatches('', sig)).toBe(false);
    expect(signatureMatches(undefined, sig)).toBe(false);
  });
});
