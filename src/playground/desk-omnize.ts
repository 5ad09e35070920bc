/**
 * Omnize / Zenvia Chat (`type: omnize`) as the playground's desk: the OmnizeSimulator plays the
 * account and its agent (accept, reply, typing, a file, finish), driven as the flow suite's fixture
 * does (test/flows/omnize-fixture.ts), with the same credentials shape (docs/helpdesks/omnize.md).
 * The sandbox sets `server.publicUrl`, so Omnize fetches the bot transcript from the bridge
 * (`external_history`); without it the adapter sends it as the first customer message.
 */
import { OmnizeSimulator, type SimInteraction } from '../../simulators/omnize/index.js';
import { TRANSCRIPT_HEADER } from '../helpdesks/omnize/index.js';
import { mustAccept, type Desk } from './desk.js';

const TOKEN = 'sandbox-omnize-token-0123';
const SECRET = 'sandbox-omnize-trigger-secret-0123';
/** interactions.md "Start interaction" example department; the simulator's default. */
const DEPARTMENT = 9999;

const isTranscript = (content: string): boolean => content.startsWith(TRANSCRIPT_HEADER);

function transcriptOf(i: SimInteraction): string[] {
  const fetched = i.history.find((h) => h.valid);
  if (fetched) return fetched.messages?.map((m) => `${m.direction === 'CLIENT' ? 'Customer' : 'Bot'}: ${m.content}`) ?? [];
  return i.messages.find((m) => m.direction === 'customer' && isTranscript(m.content))?.content.split('\n') ?? [];
}

export function omnizeDesk(): Desk {
  const sim = new OmnizeSimulator({ tokens: [TOKEN] });
  let url = '';
  const delivered = (what: string, r: { delivery?: { status?: number } | undefined }): void => mustAccept(what, r.delivery?.status);
  /** The agent accepts a waiting interaction the first time they act on it. */
  async function live(key: string): Promise<void> {
    if (sim.interaction(key)?.state !== 'accepted') delivered('accept', await sim.accept(key));
  }
  return {
    type: 'omnize',
    get url() {
      return url;
    },
    async start(port) {
      url = await sim.start(port);
      return { type: 'omnize', baseUrl: sim.apiUrl, token: TOKEN, departmentId: DEPARTMENT, webhookSecret: SECRET, timeoutMs: 3_000 };
    },
    connect(bridgeUrl, bot) {
      sim.setWebhookUrl(`${bridgeUrl}/helpdesk/${bot}/webhook?secret=${SECRET}`);
    },
    conversations() {
      return sim
        .interactions()
        .slice()
        .reverse()
        .map((i) => ({
          key: i.hash,
          customer: i.customer?.name ?? i.customer?.phone ?? i.hash,
          state: i.state,
          closed: i.state === 'finished',
          transcript: transcriptOf(i),
          messages: i.messages
            .filter((m) => !(m.direction === 'customer' && isTranscript(m.content)))
            .map((m) => ({
              from: m.direction,
              text: m.content,
              at: m.at,
              ...(m.type !== 'text' && m.url ? { media: { url: m.url, name: m.content || m.type } } : {}),
            })),
          customerTyping: i.customerTyping,
        }));
    },
    async reply(key, text) {
      await live(key);
      delivered('reply', await sim.agentMessage(key, text));
    },
    async typing(key, on) {
      await live(key);
      delivered('typing', await sim.agentTyping(key, on));
    },
    async file(key, f) {
      await live(key);
      const type = f.mimeType.startsWith('image/') ? 'image' : f.mimeType.startsWith('video/') ? 'video' : f.mimeType.startsWith('audio/') ? 'audio' : 'file';
      delivered('file', await sim.agentMessage(key, { type, url: f.url, content: f.name }));
    },
    async end(key) {
      delivered('end', await sim.finish(key));
    },
    stop: () => sim.stop(),
  };
}
