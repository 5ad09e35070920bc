/** Zendesk tickets (`type: zendesk-tickets`, Support API + an event-subscribed webhook) through the shared flow suite. */
import { flowSuite } from './suite.js';
import { zendeskTicketsFixture } from './zendesk-fixture.js';

flowSuite(() => zendeskTicketsFixture());
