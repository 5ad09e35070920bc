/**
 * When traces are on: off by default, on by the config or the standard OTEL_* variables, and off
 * whatever the config says when the variables say so (OpenTelemetry's SDK environment variables:
 * OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { tracing, tracingWanted } from '../../src/telemetry/tracing.js';

const off = { enabled: false, serviceName: 'x', sampleRatio: 1 };
const on = { ...off, enabled: true };

describe('tracingWanted', () => {
  it('is off by default: the config default and no variable', () => {
    const cfg = parseConfig({ server: { adminToken: 'admin-token-0123456789' }, bots: [{ id: 'a', blip: { identifier: 'a', accessKey: 'aw==', inboundToken: 'inbound-token-0123456789' }, helpdesk: { type: 'webhook', url: 'http://127.0.0.1:1/x', secret: `whsec_${Buffer.from('a-tool-secret-of-at-least-24-bytes!!').toString('base64')}` } }] }, 'test');
    expect(cfg.telemetry).toEqual({ enabled: false, serviceName: 'blip-helpdesk-bridge', sampleRatio: 1 });
    expect(tracingWanted(cfg.telemetry, {})).toBe(false);
  });

  it('the config turns it on', () => {
    expect(tracingWanted(on, {})).toBe(true);
  });

  it('OTEL_TRACES_EXPORTER or an OTLP endpoint variable turns it on without the config', () => {
    expect(tracingWanted(off, { OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(tracingWanted(off, { OTEL_TRACES_EXPORTER: ' Console ' })).toBe(true);
    expect(tracingWanted(off, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingWanted(off, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
  });

  it('OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turns it off whatever the config says', () => {
    expect(tracingWanted(on, { OTEL_SDK_DISABLED: 'TRUE' })).toBe(false);
    expect(tracingWanted(on, { OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toBe(false);
    expect(tracingWanted(on, { OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
    expect(tracingWanted(on, { OTEL_SDK_DISABLED: 'false' })).toBe(true);
  });

  it('nothing is started in a process that did not ask', () => {
    expect(tracing()).toBeUndefined();
  });
});
