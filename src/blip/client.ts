/**
 * Blip's HTTP API, outbound (research/blip.md §1.2): POST {contract}.http.msging.net/messages,
 * /notifications and /commands with `Authorization: Key base64(identifier:accessKey-decoded)`.
 * Commands answer in the HTTP response, and a failure is still HTTP 200 with `status: failure`.
 */
import { randomUUID } from 'node:crypto';
import type { BotConfig } from '../config/schema.js';
import { DeliveryError } from '../delivery/errors.js';
import type { HttpClient } from '../delivery/http.js';
import type { Command, CommandResponse, OutboundMessage, OutboundNotification } from '../lime/envelope.js';
import { Pacer } from './pacer.js';

/** Key token as Blip's own SDK builds it (blip-sdk-csharp WebTransport.GetAuthCredentials). */
export function blipKey(identifier: string, accessKey: string): string {
  const password = Buffer.from(accessKey, 'base64').toString('utf8');
  return Buffer.from(`${identifier}:${password}`, 'utf8').toString('base64');
}

/**
 * Every call to Blip (messages, notifications, commands) takes a token from one per-bot pacer:
 * Blip's limits count them all (research/blip.md §1.2), so notifications and commands must not
 * burst past the messages' budget.
 */
export class BlipClient {
  private readonly auth: string;
  private readonly base: string;
  readonly pacer: Pacer;

  constructor(
    private readonly config: BotConfig['blip'],
    private readonly http: HttpClient,
    private readonly timeoutMs: number,
  ) {
    this.auth = `Key ${blipKey(config.identifier, config.accessKey)}`;
    this.base = config.baseUrl.replace(/\/+$/, '');
    this.pacer = new Pacer(config.messagesPerSecond);
  }

  get identity(): string {
    return `${this.config.identifier}@msging.net`;
  }

  async sendMessage(message: OutboundMessage | Omit<OutboundMessage, 'id'>): Promise<void> {
    await this.post('/messages', message);
  }

  async sendNotification(notification: OutboundNotification): Promise<void> {
    await this.post('/notifications', notification);
  }

  /** Sends a command; transport and HTTP failures throw DeliveryError, a `failure` status is returned. */
  async command(command: Omit<Command, 'id'> & { id?: string }): Promise<CommandResponse> {
    const res = await this.post('/commands', { id: command.id ?? randomUUID(), ...command });
    const body = res as CommandResponse | string;
    if (typeof body !== 'object' || body === null) throw new DeliveryError(`Blip /commands answered a non-JSON body`, true);
    return body;
  }

  /**
   * Checks the key with a read-only command. Blip answers 401 to a wrong key; any command answer
   * (even `failure`, e.g. no threads yet) proves the key and the contract URL.
   */
  async check(): Promise<{ ok: boolean; detail: string }> {
    try {
      const res = await this.command({ to: 'postmaster@msging.net', method: 'get', uri: '/threads?$take=1' });
      return { ok: true, detail: `Blip accepted the key of ${this.identity} at ${this.base} (threads: ${res.status ?? 'no status'})` };
    } catch (err) {
      const e = err as DeliveryError;
      const hint = e.status === 401 ? ' — check blip.identifier and blip.accessKey' : '';
      return { ok: false, detail: `${e.message}${hint}` };
    }
  }

  private async post(path: string, body: unknown): Promise<unknown> {
    await this.pacer.take();
    const res = await this.http.send({
      url: `${this.base}${path}`,
      headers: { authorization: this.auth },
      body,
      timeoutMs: this.timeoutMs,
    });
    return res.body;
  }
}
