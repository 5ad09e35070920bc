import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderReference } from '../../src/config/reference.js';

describe('docs/configuration.md', () => {
  it('is what the schemas say (regenerate with npm run docs:config)', () => {
    expect(readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')).toBe(renderReference());
  });
});
