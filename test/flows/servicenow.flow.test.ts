/** ServiceNow (`type: servicenow`, Virtual Agent API → Agent Chat) through the shared flow suite, against the ServiceNow simulator. */
import { flowSuite } from './suite.js';
import { serviceNowFixture } from './servicenow-fixture.js';

flowSuite(() => serviceNowFixture());
