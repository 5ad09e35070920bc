/** Intercom (`type: intercom`, REST 2.14) through the shared flow suite, against the Intercom simulator. */
import { flowSuite } from './suite.js';
import { intercomFixture } from './intercom-fixture.js';

flowSuite(() => intercomFixture());
