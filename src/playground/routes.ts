/**
 * The sandbox's playground (README, "Try it in the sandbox"): one page with the customer's phone
 * (the Blip simulator's router: send text, a picture, a location, pick a menu option; see replies,
 * typing and the Redirect back to the bot) beside the agent's desk (the helpdesk simulator's agent
 * side). Sandbox only: it plays both people, so it has no credentials of its own and listens on
 * loopback with the sandbox.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { BlipSimulator } from '../../simulators/blip/index.js';
import { Validator, parseJson } from '../http/body.js';
import { Assets } from '../http/assets.js';
import { BridgeError } from '../http/errors.js';
import { MIME } from '../lime/envelope.js';
import type { Desk } from './desk.js';
import { samplePicture } from './picture.js';

export interface PlaygroundOptions {
  blip: BlipSimulator;
  desk: Desk;
  bot: string;
  identifier: string;
  customer: { originator: string; name: string };
  /** The router's service name of our sub-bot (where a hand-off sends the customer). */
  humanService: string;
  /** Shown on the page: where the console is and its (public) sandbox token. */
  adminToken: string;
  /** The bot's attendance settings, to show the timers. */
  attendance: unknown;
  assetsDir?: string;
}

const CustomerSays = new Validator(
  Type.Union([
    Type.Object({ kind: Type.Literal('text'), text: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }),
    Type.Object({ kind: Type.Literal('picture'), caption: Type.Optional(Type.String({ maxLength: 1024 })) }, { additionalProperties: false }),
    Type.Object({ kind: Type.Literal('location') }, { additionalProperties: false }),
  ]),
  'BRIDGE_ERR_INVALID_REQUEST',
);
const DeskAction = new Validator(
  Type.Union([
    Type.Object({ action: Type.Literal('reply'), text: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }),
    Type.Object({ action: Type.Literal('typing'), on: Type.Boolean() }, { additionalProperties: false }),
    Type.Object({ action: Type.Literal('file') }, { additionalProperties: false }),
    Type.Object({ action: Type.Literal('end') }, { additionalProperties: false }),
  ]),
  'BRIDGE_ERR_INVALID_REQUEST',
);

const PICTURE = samplePicture();
const PICTURE_PATH = '/playground/media/sunset.png';

export async function playgroundRoutes(app: FastifyInstance, opts: PlaygroundOptions): Promise<void> {
  const { blip, desk, customer } = opts;
  const assets = new Assets(['playground.html', 'playground.js', 'app.css'], opts.assetsDir);
  let base = '';
  app.addHook('onRequest', async (req) => {
    base ||= `${req.protocol}://${req.host}`;
  });

  app.get('/playground', async (req, reply) => assets.send(reply, 'playground.html', req.headers['if-none-match']));
  app.get<{ Params: { name: string } }>('/playground/assets/:name', async (req, reply) => {
    if (req.params.name.endsWith('.html')) throw new BridgeError('BRIDGE_ERR_NOT_FOUND', `no asset "${req.params.name}"`);
    return assets.send(reply, req.params.name, req.headers['if-none-match']);
  });
  app.get(PICTURE_PATH, async (_req, reply) => reply.type('image/png').header('cache-control', 'max-age=3600').send(PICTURE));

  app.get('/playground/api/state', async () => {
    const view = blip.customerView(customer.originator, blip.routerOf(opts.identifier));
    return {
      bot: opts.bot,
      helpdesk: desk.type,
      deskUrl: desk.url,
      console: { path: '/console', token: opts.adminToken },
      attendance: opts.attendance,
      customer: {
        ...customer,
        activeService: view?.activeService ?? null,
        humanService: opts.humanService,
        thread: view?.thread ?? [],
        redirects: blip.redirects.filter((r) => r.originator === customer.originator),
      },
      desk: { conversations: desk.conversations() },
    };
  });

  app.post('/playground/api/customer/says', async (req, reply) => {
    const b = CustomerSays.parse(parseJson(req.body));
    const msg =
      b.kind === 'text'
        ? { type: MIME.text, content: b.text }
        : b.kind === 'picture'
          ? { type: 'application/vnd.lime.media-link+json', content: { type: 'image/png', uri: `${base}${PICTURE_PATH}`, size: PICTURE.length, title: 'sunset.png', ...(b.caption ? { text: b.caption } : {}) } }
          : { type: 'application/vnd.lime.location+json', content: { latitude: -23.5613, longitude: -46.6565, text: 'Av. Paulista, 1578 — São Paulo' } };
    const answer = await blip.customerSays(customer.originator, opts.identifier, msg);
    return reply.code(202).send(answer);
  });

  /** What the main bot's "talk to a person" does: the router hands the customer to us again. */
  app.post('/playground/api/customer/handoff', async (_req, reply) => {
    blip.handOff(customer.originator, opts.identifier);
    return reply.code(202).send({ activeService: blip.customerView(customer.originator, blip.routerOf(opts.identifier))?.activeService });
  });

  app.post<{ Params: { key: string } }>('/playground/api/desk/:key', async (req, reply) => {
    const b = DeskAction.parse(parseJson(req.body));
    const key = req.params.key;
    if (!desk.conversations().some((c) => c.key === key)) throw new BridgeError('BRIDGE_ERR_NOT_FOUND', `the desk has no attendance ${key}`);
    try {
      if (b.action === 'reply') await desk.reply(key, b.text);
      else if (b.action === 'typing') await desk.typing(key, b.on);
      else if (b.action === 'file') await desk.file(key, { url: `${base}${PICTURE_PATH}`, name: 'sunset.png', mimeType: 'image/png' });
      else await desk.end(key);
    } catch (err) {
      // The simulator, or the bridge behind it, refused (e.g. the attendance has ended): the desk shows why.
      throw new BridgeError('BRIDGE_ERR_INVALID_REQUEST', (err as Error).message);
    }
    return reply.code(202).send({ ok: true });
  });
}
