/** `npm start -- --helpdesk <type>` / SANDBOX_HELPDESK: which helpdesk simulator the sandbox plays. */
import { afterEach, describe, expect, it } from 'vitest';
import { sandboxHelpdesk } from '../../src/sandbox.js';

describe('the sandbox helpdesk choice', () => {
  afterEach(() => {
    delete process.env['SANDBOX_HELPDESK'];
  });

  it('defaults to the custom tool, takes SANDBOX_HELPDESK, and lets the flag win', () => {
    expect(sandboxHelpdesk(undefined)).toBe('webhook');
    process.env['SANDBOX_HELPDESK'] = 'servicenow';
    expect(sandboxHelpdesk(undefined)).toBe('servicenow');
    expect(sandboxHelpdesk('webhook')).toBe('webhook');
  });

  it('names the helpdesks it can play when given another', () => {
    expect(() => sandboxHelpdesk('freshdesk')).toThrow(/the sandbox plays webhook, servicenow, intercom, omnize, zendesk-messaging, zendesk-tickets \(got "freshdesk"\)/);
  });
});
