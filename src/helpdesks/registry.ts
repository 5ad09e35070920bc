/**
 * The one list of helpdesk adapters. Adding a vendor touches only its folder and one line here.
 */
import type { AdapterDefinition } from './adapter.js';
import { intercomAdapter } from './intercom/index.js';
import { webhookAdapter } from './webhook/index.js';

const ADAPTERS: readonly AdapterDefinition<any>[] = [webhookAdapter, intercomAdapter];

export function adapterDefinition(type: string): AdapterDefinition<unknown> | undefined {
  return ADAPTERS.find((a) => a.type === type);
}

export function adapterTypes(): string[] {
  return ADAPTERS.map((a) => a.type);
}
