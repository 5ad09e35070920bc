/**
 * Switchboard actions (research §A.1.8, spec passControl / offerControl / acceptControl /
 * releaseControl): who is in control of a conversation, and the events each change emits.
 */
import type { SimRequest, SimResponse } from './http.js';
import { conversationTruncatedJson, type ScConversation, type ScSwitchboardIntegration } from './sunco-shapes.js';
import { asMetadata, invalidMetadata } from './sunco-validate.js';
import { errors, badRequest, type Ctx, type SunCo } from './sunco.js';
import { ensureTicket } from './sunco-agent.js';

/**
 * passControlBody.switchboardIntegration: "May be referenced by its id, name, or integrationType,
 * in that order of precedence … ambiguity … an error … The `next` keyword".
 */
export function resolveTarget(sim: SunCo, c: ScConversation, ref: unknown): ScSwitchboardIntegration | string {
  if (typeof ref !== 'string' || ref === '') return 'switchboardIntegration is required';
  if (ref === 'next') {
    const from = c.active ? sim.switchboardById(c.active) : undefined;
    const next = from?.nextSwitchboardIntegrationId ? sim.switchboardById(from.nextSwitchboardIntegrationId) : undefined;
    return next ?? 'There is no next switchboard integration';
  }
  const byId = sim.switchboardById(ref);
  if (byId) return byId;
  const byName = sim.switchboardIntegrations.find((s) => s.name === ref);
  if (byName) return byName;
  const byType = sim.switchboardIntegrations.filter((s) => s.integrationType === ref);
  if (byType.length > 1) return `switchboardIntegration ${ref} is ambiguous`;
  // UNVERIFIED: an unknown target as a synchronous 400 (the spec also has `*:failure` webhooks).
  return byType[0] ?? `Switchboard integration ${ref} not found`;
}

export function passControl(sim: SunCo, c: ScConversation, req: SimRequest): SimResponse {
  const parsed = sim.json(req);
  if ('error' in parsed) return parsed.error;
  const b = parsed.ok;
  const invalid = invalidMetadata(b['metadata']);
  if (invalid) return badRequest(invalid);
  const target = resolveTarget(sim, c, b['switchboardIntegration']);
  if (typeof target === 'string') return badRequest(target);
  const metadata = asMetadata(b['metadata']);
  // "marks the selected switchboard integration as active and transitions all the other switchboard
  // integrations to standby status": a pending offer ends too (UNVERIFIED that it is cleared).
  c.active = target.id;
  delete c.pending;
  sim.logSwitch(c, 'passControl', 'api', metadata);
  if (target.id === sim.agentWorkspace.id) ensureTicket(sim, c, 'passControl', metadata ?? {});
  sim.emit('switchboard:passControl', c, {
    conversation: conversationTruncatedJson(c, sim.switchboardById),
    ...(metadata ? { metadata } : {}),
  });
  return { status: 200, json: {} };
}

export function offerControl(sim: SunCo, c: ScConversation, req: SimRequest): SimResponse {
  const parsed = sim.json(req);
  if ('error' in parsed) return parsed.error;
  const b = parsed.ok;
  const invalid = invalidMetadata(b['metadata']);
  if (invalid) return badRequest(invalid);
  const target = resolveTarget(sim, c, b['switchboardIntegration']);
  if (typeof target === 'string') return badRequest(target);
  // offerControlBody: "This cannot match the active switchboard integration." (title from the spec's
  // switchboardOfferControlFailureEvent example; a synchronous 400 is UNVERIFIED).
  if (target.id === c.active) return badRequest('Cannot offer control to the active switchboard integration.');
  const metadata = asMetadata(b['metadata']);
  c.pending = target.id; // "Invalidates previous offerControl actions."
  sim.logSwitch(c, 'offerControl', 'api', metadata);
  sim.emit('switchboard:offerControl', c, {
    conversation: conversationTruncatedJson(c, sim.switchboardById),
    ...(metadata ? { metadata } : {}),
  });
  return { status: 200, json: {} };
}

export function acceptControl(sim: SunCo, c: ScConversation, req: SimRequest, ctx: Ctx): SimResponse {
  const parsed = sim.json(req, false);
  if ('error' in parsed) return parsed.error;
  const b = parsed.ok;
  const invalid = invalidMetadata(b['metadata']);
  if (invalid) return badRequest(invalid);
  // spec example switchboardAcceptControlFailureEvent: "There is no pendingSwitchboardIntegration".
  if (!c.pending) return badRequest('There is no pendingSwitchboardIntegration');
  // AcceptControl: "When using integration auth scope, a 403 is returned if the pending switchboard integration is not the authenticated integration."
  if (ctx.auth.scope === 'integration' && c.pending !== sim.bridgeSwitchboard.id) return errors(403, 'forbidden', 'Forbidden');
  const metadata = asMetadata(b['metadata']);
  c.active = c.pending;
  delete c.pending;
  sim.logSwitch(c, 'acceptControl', 'api', metadata);
  if (c.active === sim.agentWorkspace.id) ensureTicket(sim, c, 'acceptControl', metadata ?? {});
  sim.emit('switchboard:acceptControl', c, {
    conversation: conversationTruncatedJson(c, sim.switchboardById),
    ...(metadata ? { metadata } : {}),
  });
  return { status: 200, json: {} };
}

export function releaseControl(sim: SunCo, c: ScConversation, req: SimRequest, ctx: Ctx): SimResponse {
  const parsed = sim.json(req, false);
  if ('error' in parsed) return parsed.error;
  const b = parsed.ok;
  const invalid = invalidMetadata(b['metadata']);
  if (invalid) return badRequest(invalid);
  // ReleaseControl: "When using integration auth scope, a 403 is returned if the authenticated integration is not currently active".
  if (ctx.auth.scope === 'integration' && c.active !== sim.bridgeSwitchboard.id) return errors(403, 'forbidden', 'Forbidden');
  const metadata = asMetadata(b['metadata']);
  // "releases the control of the conversation by nullifying its switchboard state". An open Agent
  // Workspace ticket stays open (UNVERIFIED).
  delete c.active;
  delete c.pending;
  sim.logSwitch(c, 'releaseControl', 'api', metadata);
  sim.emit('switchboard:releaseControl', c, {
    conversation: conversationTruncatedJson(c, sim.switchboardById),
    ...(metadata ? { metadata } : {}),
  });
  return { status: 200, json: {} };
}
