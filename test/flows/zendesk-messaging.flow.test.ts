/** Zendesk messaging (`type: zendesk-messaging`: Sunshine Conversations + Agent Workspace) through the shared flow suite. */
import { flowSuite } from './suite.js';
import { zendeskMessagingFixture } from './zendesk-fixture.js';

flowSuite(() => zendeskMessagingFixture());
