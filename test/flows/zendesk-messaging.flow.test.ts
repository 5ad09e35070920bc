/**
 * Zendesk messaging (`type: zendesk-messaging`: Sunshine Conversations + Agent Workspace) through the
 * shared flow suite, once per way a real account may behave where Zendesk's documents leave it open
 * (MESSAGING_VARIANTS): the adapter must carry the conversation and see its end in each.
 */
import { flowSuite } from './suite.js';
import { MESSAGING_VARIANTS, zendeskMessagingFixture, type MessagingVariant } from './zendesk-fixture.js';

for (const variant of Object.keys(MESSAGING_VARIANTS) as MessagingVariant[]) flowSuite(() => zendeskMessagingFixture({}, {}, variant));
