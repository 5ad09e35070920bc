/**
 * The one list of helpdesk adapters. Adding a vendor touches only its folder and one line here.
 */
import type { AdapterDefinition } from './adapter.js';
import { intercomAdapter } from './intercom/index.js';
import { omnizeAdapter } from './omnize/index.js';
import { serviceNowAdapter } from './servicenow/index.js';
import { webhookAdapter } from './webhook/index.js';
import { zendeskMessagingAdapter } from './zendesk/messaging.js';
import { zendeskTicketsAdapter } from './zendesk/tickets.js';

const ADAPTERS: readonly AdapterDefinition<any>[] = [
  webhookAdapter,
  intercomAdapter,
  zendeskMessagingAdapter,
  zendeskTicketsAdapter,
  serviceNowAdapter,
  omnizeAdapter,
];

export function adapterDefinition(type: string): AdapterDefinition<unknown> | undefined {
  return ADAPTERS.find((a) => a.type === type);
}

export function adapterTypes(): string[] {
  return ADAPTERS.map((a) => a.type);
}
