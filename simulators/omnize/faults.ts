/**
 * What can go wrong between an app and Omnize's API, on demand: injected statuses per route, an
 * outage, latency. Omnize documents no rate limit (research §5: "Rate limits: none documented"),
 * so none is simulated; a 429 can be injected with `failNext`.
 */
import { Faults as CommonFaults } from '../common/faults.js';
import type { ApiRoute, InjectedFailure } from './types.js';

/** Injected failures, outages and latency: the simulators' common kind. */
export class Faults extends CommonFaults<ApiRoute, InjectedFailure> {}
