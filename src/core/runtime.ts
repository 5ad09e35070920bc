/**
 * What the core holds per bot: its config, Blip client (with the bot's one pacer), helpdesk adapter
 * and attendance policy, built once from the validated config.
 */
import type { Logger } from 'pino';
import type { BotConfig, Config } from '../config/schema.js';
import { BlipClient } from '../blip/client.js';
import type { HttpClient } from '../delivery/http.js';
import type { HelpdeskAdapter } from '../helpdesks/adapter.js';
import { adapterDefinition } from '../helpdesks/registry.js';
import { Links } from './links.js';
import type { MediaPolicy } from './media.js';
import { compilePolicy, type Policy } from './policy.js';

export interface BotRuntime {
  config: BotConfig;
  blip: BlipClient;
  adapter: HelpdeskAdapter;
  policy: Policy;
}

/** A bot's Blip client, helpdesk adapter and policy, from its validated config. */
export function createRuntime(bot: BotConfig, http: HttpClient, log: Logger, timeoutMs: number, media: MediaPolicy, links: Links): BotRuntime {
  const def = adapterDefinition(bot.helpdesk.type);
  if (!def) throw new Error(`bots.${bot.id}.helpdesk.type: unknown helpdesk type ${bot.helpdesk.type}`);
  return {
    config: bot,
    blip: new BlipClient(bot.blip, http, timeoutMs),
    policy: compilePolicy(bot.attendance),
    adapter: def.create(bot.helpdesk, {
      http,
      log: log.child({ bot: bot.id, helpdesk: bot.helpdesk.type }),
      botId: bot.id,
      media,
      transcriptUrl: (attendanceId) => links.transcriptUrl(attendanceId),
    }),
  };
}

/** check-config: each bot's Blip key and helpdesk, without touching the store. */
export async function checkConnections(config: Config, http: HttpClient, log: Logger): Promise<Array<{ bot: string; part: 'blip' | 'helpdesk'; ok: boolean; detail: string }>> {
  const out: Array<{ bot: string; part: 'blip' | 'helpdesk'; ok: boolean; detail: string }> = [];
  for (const bot of config.bots) {
    const rt = createRuntime(bot, http, log, config.delivery.timeoutMs, config.media, new Links(config.server.publicUrl, config.server.adminToken));
    const [b, h] = await Promise.all([rt.blip.check(), rt.adapter.check().catch((e: Error) => ({ ok: false, detail: e.message }))]);
    out.push({ bot: bot.id, part: 'blip', ...b }, { bot: bot.id, part: 'helpdesk', ...h });
  }
  return out;
}
