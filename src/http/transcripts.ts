/**
 * GET /transcripts/{attendance}?expires=…&sig=…: the bot transcript of an attendance, for helpdesks
 * that fetch it themselves (Omnize `external_history`, specs/omnize/interactions.md "External
 * History"), in that documented shape. Only with a valid, unexpired signature (core/links.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { TranscriptEntry } from '../helpdesks/adapter.js';
import type { Links } from '../core/links.js';
import type { Store } from '../store/store.js';
import { BridgeError } from './errors.js';

/** Omnize shows `time` as "YYYY-MM-DD HH:MM:SS" (UTC here; the docs name no zone). */
function omnizeTime(iso: string): string {
  return new Date(iso).toISOString().replace('T', ' ').slice(0, 19);
}

export async function transcriptRoutes(app: FastifyInstance, opts: { store: Store; links: Links }): Promise<void> {
  app.get<{ Params: { id: string }; Querystring: { expires?: string; sig?: string } }>('/transcripts/:id', async (req) => {
    const verdict = opts.links.verify(req.params.id, req.query.expires, req.query.sig);
    if (verdict !== 'ok') throw new BridgeError('BRIDGE_ERR_UNAUTHORIZED', verdict === 'expired' ? 'the link has expired' : 'the link is not valid');
    const att = await opts.store.attendance(req.params.id);
    if (!att) throw new BridgeError('BRIDGE_ERR_UNKNOWN_ATTENDANCE', req.params.id);
    const transcript = att.transcript ? (JSON.parse(att.transcript) as TranscriptEntry[]) : [];
    return {
      messages: transcript.map((t) => ({ time: omnizeTime(t.at), direction: t.direction === 'customer' ? 'CLIENT' : 'AGENT', content: t.content.text })),
    };
  });
}
