/**
 * LIME ⇄ canonical content (DESIGN §5, §6; research/blip.md §3.2). Pure: no I/O.
 *
 * Inbound never throws and never drops: every LIME type Blip documents maps to a canonical
 * content, unknown types become `unsupported` with a readable fallback, and only a known type
 * with a malformed body is `invalid` (the caller decides what to do with it).
 *
 * The readable `text` formats (lines separated by "\n"; `[…]` = only when present):
 *   media       📎 [name ](mimeType) url            e.g. "📎 Cat (image/jpeg) http://…/cat.jpg"
 *               [caption]
 *   web-link    🔗 [title ]uri
 *               [text]
 *   location    📍 name-or-"Location" (lat, lng)
 *               https://maps.google.com/?q=lat,lng
 *   contact     👤 name / [📞 phone] / [✉️ email]
 *   choices     [prompt] / "1. label" per option (document-select web-link labels add their link)
 *   carousel and other collections, list: each item's text, a blank line between items
 *   reply       "> " + each line of the quoted message / the reply
 *   reaction    Reacted 👍 to: “quoted message on one line”
 *   deleted, redirect, resource: a sentence in parentheses, so it never reads as customer text
 *   unknown     the string itself, or compact JSON cut at ~1000 characters
 * Every text is capped at 65,536 characters (the canonical schema's limit), ending in "…".
 */
import type {
  ChatState,
  ChoicesContent,
  ContactContent,
  Content,
  LocationContent,
  MediaContent,
  ReplyContent,
  UnsupportedContent,
} from './content.js';
import { MIME } from '../lime/envelope.js';
import { limeContent as lime, type LimeContentCheck } from '../lime/contents.js';
import type * as Lime from '../lime/contents.js';

export type LimeInbound =
  | { kind: 'content'; content: Content }
  | { kind: 'chatstate'; state: ChatState }
  | { kind: 'invalid'; error: string };

/** A LIME document as it goes in a message envelope's `type` and `content`. */
export interface LimeDocument {
  type: string;
  content: unknown;
}

const MAX_TEXT = 65_536;
/** Documents inside documents: a carousel already uses 3 levels (collection → card → header). */
const MAX_DEPTH = 5;
const JSON_PREVIEW = 1_000;
/** Quotes are context for the agent, not content: keep them short so the reply stays visible. */
const QUOTE_PREVIEW = 1_000;
const REACTION_PREVIEW = 200;
/** Canonical limits (core/content.ts) for names, labels, option values, mimeType and option count. */
const MAX_NAME = 1_024;
const MAX_MIME = 255;
const MAX_OPTIONS = 100;
const MAX_PHONE = 64;
const MAX_EMAIL = 320;
const OCTET_STREAM = 'application/octet-stream';
const MAPS = 'https://maps.google.com/?q=';

// ---------------------------------------------------------------------------------------------
// LIME → canonical

/** Converts one LIME message content (customer or bot transcript). Never throws. */
export function limeToContent(type: string, content: unknown): LimeInbound {
  try {
    return convert(type, content, 0);
  } catch {
    // Inputs are arbitrary values (getters, proxies); a surprise must not lose a customer message.
    return found(unsupported(typeof type === 'string' ? type : '', '(unreadable content)'));
  }
}

/** The readable text of a LIME content, for transcripts and logs. Never throws. */
export function readableText(type: string, content: unknown): string {
  const result = limeToContent(type, content);
  return result.kind === 'invalid' ? `(${result.error})` : textOf(result);
}

type Converter = (content: unknown, depth: number, mimeType: string) => LimeInbound;

function convert(type: unknown, content: unknown, depth: number): LimeInbound {
  const mimeType = typeof type === 'string' ? clip(type, MAX_MIME) : '';
  if (depth > MAX_DEPTH) return found(unsupported(mimeType, '(content nested too deeply)'));
  const converter = converters.get(baseType(mimeType));
  return converter ? converter(content, depth, mimeType) : found(unsupported(mimeType, readableUnknown(content)));
}

/** Validates with the type's schema first, so converters only see well-formed documents. */
function parsed<T>(
  check: LimeContentCheck<T>,
  convertValid: (value: T, depth: number, mimeType: string) => LimeInbound,
): Converter {
  return (content, depth, mimeType) => {
    const result = check.parse(content);
    return result.ok ? convertValid(result.value, depth, mimeType) : invalid(result.error);
  };
}

const converters = new Map<string, Converter>([
  [MIME.text, parsed(lime.text, (text) => found({ type: 'text', text: clip(text) }))],
  [MIME.mediaLink, parsed(lime.mediaLink, fromMediaLink)],
  [MIME.webLink, parsed(lime.webLink, (link) => found({ type: 'text', text: clip(webLinkText(link)) }))],
  [MIME.location, parsed(lime.location, fromLocation)],
  [MIME.select, parsed(lime.select, fromSelect)],
  [MIME.documentSelect, parsed(lime.documentSelect, fromDocumentSelect)],
  [MIME.collection, parsed(lime.collection, fromCollection)],
  [MIME.container, parsed(lime.container, (c, depth) => convert(c.type, c.value, depth + 1))],
  [MIME.list, parsed(lime.list, fromList)],
  [MIME.chatstate, parsed(lime.chatState, ({ state }) => ({
    kind: 'chatstate',
    state: state === 'starting' || state === 'composing' ? 'typing' : 'paused',
  }))],
  // An input is the bot asking something; the question is its label.
  [MIME.input, parsed(lime.input, ({ label }, depth) =>
    found({ type: 'text', text: render(label.type, label.value, depth + 1) }))],
  [MIME.reply, parsed(lime.reply, fromReply)],
  [MIME.reaction, parsed(lime.reaction, fromReaction)],
  [MIME.deleted, (_content, _depth, mimeType) => found(unsupported(mimeType, '(the customer deleted a message)'))],
  [MIME.redirect, parsed(lime.redirect, fromRedirect)],
  // Blip does not store a sensitive content, but the agent needs it to help: unwrap it. Keeping it
  // out of our own logs and transcripts is the caller's job (the envelope type says it is sensitive).
  [MIME.sensitive, parsed(lime.sensitive, (c, depth) => convert(c.type, c.value, depth + 1))],
  [MIME.resource, parsed(lime.resource, ({ key }, _depth, mimeType) =>
    found(unsupported(mimeType, `(Blip resource "${clip(key, MAX_NAME)}")`)))],
  [MIME.json, (content, _depth, mimeType) => found(unsupported(mimeType, compactJson(content, JSON_PREVIEW)))],
  [MIME.contact, parsed(lime.contact, fromContactCard)],
]);

function fromMediaLink(link: Lime.MediaLink): LimeInbound {
  const mimeType = nonBlank(link.type) ?? OCTET_STREAM;
  const name = nonBlank(link.title);
  const caption = nonBlank(link.text);
  const size = byteCount(link.size);
  const media: MediaContent = {
    type: 'media',
    text: clip(mediaText(link.uri, mimeType, name, caption)),
    url: link.uri,
    mimeType,
    ...(name === undefined ? {} : { name: clip(name, MAX_NAME) }),
    ...(size === undefined ? {} : { size }),
    ...(caption === undefined ? {} : { caption: clip(caption) }),
  };
  return found(media);
}

function fromLocation(location: Lime.Location): LimeInbound {
  const name = nonBlank(location.text);
  const content: LocationContent = {
    type: 'location',
    text: clip(locationText(location.latitude, location.longitude, name)),
    latitude: location.latitude,
    longitude: location.longitude,
    ...(name === undefined ? {} : { name: clip(name, MAX_NAME) }),
  };
  return found(content);
}

function fromSelect(select: Lime.Select): LimeInbound {
  const prompt = nonBlank(select.text);
  const options = select.options ?? [];
  // Observed WhatsApp quotes carry a select without options: it is just its prompt then.
  if (options.length === 0) return found({ type: 'text', text: clip(prompt ?? '') });
  const labels = options.map((o, i) => nonBlank(o.text) ?? `Option ${i + 1}`);
  return found(choices(prompt, numberedList(labels, (label) => label), labels, options.map((o) => optionValue(o.value))));
}

/**
 * A document-select is a menu whose labels are documents. When every label is text or a link it
 * is still a list of choices; otherwise (images as buttons…) only text can carry it faithfully.
 */
function fromDocumentSelect(select: Lime.DocumentSelect, depth: number): LimeInbound {
  const header = select.header ? render(select.header.type, select.header.value, depth + 1) : undefined;
  const prompt = nonBlank(header);
  const plain = select.options.map((o) => plainLabel(o.label));
  if (plain.length > 0 && plain.every((p) => p !== undefined)) {
    const list = numberedList(plain, (p) => (p.link === undefined || p.link === p.label ? p.label : `${p.label} ${p.link}`));
    const values = select.options.map((o) => (o.value ? optionValue(o.value.value) : undefined));
    return found(choices(prompt, list, plain.map((p) => p.label), values));
  }
  const list = numberedList(select.options, (o) => render(o.label.type, o.label.value, depth + 1));
  return found({ type: 'text', text: clip(lines([prompt, list])) });
}

/** Covers carousels too: items of a document-select collection render as one card each. */
function fromCollection(collection: Lime.Collection, depth: number): LimeInbound {
  const text = joinCapped(collection.items, (item) => render(collection.itemType, item, depth + 1), '\n\n');
  return found({ type: 'text', text: clip(text) });
}

function fromList(list: Lime.DocumentList, depth: number): LimeInbound {
  const header = list.header ? render(list.header.type, list.header.value, depth + 1) : undefined;
  const items = joinCapped(list.items, (item) => render(item.type, item.value, depth + 1), '\n\n');
  return found({ type: 'text', text: clip([header, items].filter((s) => s !== undefined && s !== '').join('\n\n')) });
}

function fromReply(reply: Lime.Reply, depth: number): LimeInbound {
  const replied = convert(reply.replied.type, reply.replied.value, depth + 1);
  if (replied.kind === 'invalid') return invalid(`reply 'replied': ${replied.error}`);
  const ref = reply.inReplyTo;
  if (ref === undefined || ref === null) return replied; // nothing to quote: it is a plain message
  const answer = textOf(replied);
  const quoted =
    ref.value === undefined || ref.value === null
      ? '(original message unavailable)'
      : render(ref.type ?? guessType(ref.value), ref.value, depth + 1);
  const id = nonBlank(ref.id);
  const content: ReplyContent = {
    type: 'reply',
    text: clip(`${quote(clip(quoted, QUOTE_PREVIEW))}\n${answer}`),
    reply: clip(answer),
    inReplyTo: { ...(id === undefined || id.length > MAX_NAME ? {} : { id }), text: clip(quoted) },
  };
  return found(content);
}

function fromReaction(reaction: Lime.Reaction, depth: number): LimeInbound {
  const emoji = String.fromCodePoint(...(reaction.emoji?.values ?? []));
  const ref = reaction.inReactionTo;
  const target =
    ref === undefined || ref === null || ref.value === undefined || ref.value === null
      ? undefined
      : clip(oneLine(render(ref.type ?? guessType(ref.value), ref.value, depth + 1)), REACTION_PREVIEW);
  const quoted = (word: string) => (target === undefined ? '' : ` ${word}: “${target}”`);
  // WhatsApp's API removes a reaction with an empty emoji; that Blip forwards it so is unverified.
  const text = emoji === '' ? `Removed a reaction${quoted('from')}` : `Reacted ${emoji}${quoted('to')}`;
  return found({ type: 'text', text: clip(text) });
}

function fromRedirect(redirect: Lime.Redirect, depth: number, mimeType: string): LimeInbound {
  const address = nonBlank(redirect.address);
  const context = redirect.context ? render(redirect.context.type, redirect.context.value, depth + 1) : undefined;
  const text = lines([
    address === undefined ? '(redirected to the main service)' : `(redirected to ${address})`,
    context === undefined ? undefined : `Context: ${context}`,
  ]);
  return found(unsupported(mimeType, clip(text)));
}

/** [OBSERVED] only (research §3.2): WhatsApp contact cards use the Blip contact document's fields. */
function fromContactCard(card: Lime.ContactCard): LimeInbound {
  const fullName = [nonBlank(card.firstName), nonBlank(card.lastName)].filter((s) => s !== undefined).join(' ');
  const name = nonBlank(card.name) ?? nonBlank(fullName) ?? '(no name)';
  const phone = nonBlank(card.phoneNumber) ?? nonBlank(card.cellPhoneNumber);
  const email = nonBlank(card.email);
  const contact: ContactContent = {
    type: 'contact',
    text: clip(contactText(name, phone, email)),
    name: clip(name, MAX_NAME),
    // Over-long values stay in `text`; a cut phone number or email would be wrong, not shorter.
    ...(phone === undefined || phone.length > MAX_PHONE ? {} : { phone }),
    ...(email === undefined || email.length > MAX_EMAIL ? {} : { email }),
  };
  return found(contact);
}

function choices(
  prompt: string | undefined,
  list: string,
  labels: readonly string[],
  values: readonly (string | undefined)[],
): ChoicesContent {
  // The canonical model holds at most 100 options; `text` still lists them all.
  const options = labels.slice(0, MAX_OPTIONS).map((label, i) => {
    const value = values[i];
    return { label: clip(label, MAX_NAME), ...(value === undefined ? {} : { value }) };
  });
  return {
    type: 'choices',
    text: clip(lines([prompt, list])),
    ...(prompt === undefined ? {} : { prompt: clip(prompt) }),
    options,
  };
}

/**
 * A label the canonical choices can hold: text/plain, or a web-link. A web-link label's name is its
 * `title` (the carousel in [DOC] multimedia-menu.md pairs title "Second link" with text "Weblink"),
 * else its `text` (the menu in the same page has only text), else the uri itself.
 */
function plainLabel(label: { type: string; value?: unknown }): { label: string; link?: string } | undefined {
  const type = baseType(label.type);
  if (type === MIME.text) {
    const text = typeof label.value === 'string' ? nonBlank(label.value) : undefined;
    return text === undefined ? undefined : { label: text };
  }
  if (type === MIME.webLink) {
    const link = lime.webLink.parse(label.value);
    if (!link.ok) return undefined;
    return { label: nonBlank(link.value.title) ?? nonBlank(link.value.text) ?? link.value.uri, link: link.value.uri };
  }
  return undefined;
}

/** What comes back when the option is picked; dropped when too long, since a cut value is a wrong one. */
function optionValue(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === 'string' ? value : compactJson(value, MAX_NAME + 1);
  return text.length <= MAX_NAME ? text : undefined;
}

function byteCount(size: number | string | null | undefined): number | undefined {
  if (size === undefined || size === null) return undefined;
  const n = typeof size === 'number' ? size : Number(size);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** The readable text of a nested document; a malformed one degrades to its JSON instead of failing the whole message. */
function render(type: unknown, value: unknown, depth: number): string {
  const result = convert(type, value, depth);
  return result.kind === 'invalid' ? readableUnknown(value) : textOf(result);
}

function textOf(result: Exclude<LimeInbound, { kind: 'invalid' }>): string {
  if (result.kind === 'content') return result.content.text;
  return result.state === 'typing' ? '(typing…)' : '(stopped typing)';
}

/** Quoted documents sometimes come without their type; a bare string can only be text. */
function guessType(value: unknown): string {
  return typeof value === 'string' ? MIME.text : '';
}

function readableUnknown(content: unknown): string {
  return typeof content === 'string' ? clip(content) : compactJson(content, JSON_PREVIEW);
}

function found(content: Content): LimeInbound {
  return { kind: 'content', content };
}

function invalid(error: string): LimeInbound {
  return { kind: 'invalid', error: clip(error, 300) };
}

function unsupported(mimeType: string, text: string): UnsupportedContent {
  return { type: 'unsupported', mimeType: clip(mimeType, MAX_MIME), text: clip(text) };
}

// ---------------------------------------------------------------------------------------------
// Readable renderings shared by both directions

function mediaText(url: string, mimeType: string, name: string | undefined, caption: string | undefined): string {
  return lines([`📎 ${name === undefined ? '' : `${name} `}(${mimeType}) ${url}`, caption]);
}

function webLinkText(link: Lime.WebLink): string {
  const title = nonBlank(link.title);
  return lines([`🔗 ${title === undefined ? '' : `${title} `}${link.uri}`, nonBlank(link.text)]);
}

function locationText(latitude: number, longitude: number, name: string | undefined): string {
  return `📍 ${name ?? 'Location'} (${latitude}, ${longitude})\n${MAPS}${latitude},${longitude}`;
}

function contactText(name: string, phone: string | undefined, email: string | undefined): string {
  return lines([
    `👤 ${name}`,
    phone === undefined ? undefined : `📞 ${phone}`,
    email === undefined ? undefined : `✉️ ${email}`,
  ]);
}

function quote(text: string): string {
  return text
    .split('\n')
    .map((line) => `> ${line}`)
    .join('\n');
}

/** "1. first" per item; continuation lines are indented so multi-line items stay readable. */
function numberedList<T>(items: readonly T[], label: (item: T) => string): string {
  return joinCapped(items, (item, i) => `${i + 1}. ${label(item).replace(/\n/g, '\n   ')}`, '\n');
}

/** Joins renderings, stopping once past the text cap so a huge collection costs no more than a big one. */
function joinCapped<T>(items: readonly T[], renderItem: (item: T, index: number) => string, separator: string): string {
  let out = '';
  for (let i = 0; i < items.length && out.length <= MAX_TEXT; i++) {
    out += (i === 0 ? '' : separator) + renderItem(items[i] as T, i);
  }
  return out;
}

function lines(parts: readonly (string | undefined)[]): string {
  return parts.filter((p): p is string => p !== undefined && p !== '').join('\n');
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

function nonBlank(value: string | null | undefined): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** `text/plain; charset=utf-8` and `Text/Plain` are the same type. */
function baseType(mimeType: string): string {
  return (mimeType.split(';', 1)[0] ?? '').trim().toLowerCase();
}

/** Cuts to at most `max` UTF-16 units ending in "…", never between the halves of a surrogate pair. */
function clip(text: string, max = MAX_TEXT): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/**
 * JSON.stringify, bounded: stops writing past `max` characters, and survives cycles and BigInt.
 * Every level writes at least one character, so the budget also bounds the recursion: a huge
 * nesting cannot overflow the stack.
 */
function compactJson(value: unknown, max: number): string {
  if (value === undefined) return '';
  let out = '';
  const active = new Set<object>();
  const write = (v: unknown): void => {
    if (out.length > max) return;
    if (typeof v === 'string') {
      out += JSON.stringify(v.length > max ? v.slice(0, max) : v);
    } else if (typeof v === 'number') {
      out += Number.isFinite(v) ? String(v) : 'null';
    } else if (typeof v === 'boolean' || typeof v === 'bigint') {
      out += String(v);
    } else if (v === null || typeof v !== 'object') {
      out += 'null';
    } else if (active.has(v)) {
      out += '…';
    } else {
      active.add(v);
      if (Array.isArray(v)) {
        out += '[';
        for (let i = 0; i < v.length && out.length <= max; i++) {
          if (i > 0) out += ',';
          write(v[i]);
        }
        out += ']';
      } else {
        out += '{';
        let first = true;
        for (const key in v) {
          if (out.length > max) break;
          if (!Object.prototype.hasOwnProperty.call(v, key)) continue;
          const item = (v as Record<string, unknown>)[key];
          if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
          out += `${first ? '' : ','}${JSON.stringify(key)}:`;
          first = false;
          write(item);
        }
        out += '}';
      }
      active.delete(v);
    }
  };
  write(value);
  return clip(out, max);
}

// ---------------------------------------------------------------------------------------------
// canonical → LIME (agent → customer)

/** Converts an agent's content to the LIME document sent to the customer. */
export function contentToLime(content: Content): LimeDocument {
  switch (content.type) {
    case 'text':
      return { type: MIME.text, content: content.text };
    case 'media':
      return {
        type: MIME.mediaLink,
        content: definedOnly({
          type: content.mimeType,
          uri: content.url,
          title: content.name,
          text: content.caption,
          size: content.size,
        }),
      };
    case 'location':
      return {
        type: MIME.location,
        content: definedOnly({
          latitude: content.latitude,
          longitude: content.longitude,
          text: content.name ?? content.address,
        }),
      };
    case 'contact':
      // Contact cards are only observed inbound (research §3.2), never documented for bots to send.
      return { type: MIME.text, content: nonBlank(content.text) ?? contactText(content.name, content.phone, content.email) };
    case 'choices':
      return {
        type: MIME.select,
        content: {
          // Quick replies (research §3.2): an agent's choices are one-off suggestions, not a standing menu.
          scope: 'immediate',
          text: content.prompt ?? content.text,
          // research §3.2: a picked option returns its `value` with its `type`, else its order or text.
          options: content.options.map((option, i) => ({
            order: i + 1,
            text: option.label,
            ...(option.value === undefined ? {} : { type: MIME.text, value: option.value }),
          })),
        },
      };
    case 'reply':
      // Sending a reply is undocumented (research §7); the quote in `text` keeps the context anywhere.
      return {
        type: MIME.text,
        content: nonBlank(content.text) ?? `${quote(clip(content.inReplyTo.text, QUOTE_PREVIEW))}\n${content.reply ?? ''}`,
      };
    case 'unsupported':
      return { type: MIME.text, content: content.text };
    default:
      return unreachable(content);
  }
}

/** Chat states the customer's channel shows: Blip's `composing` is "typing…". */
export function chatStateToLime(state: ChatState): LimeDocument {
  return { type: MIME.chatstate, content: { state: state === 'typing' ? 'composing' : 'paused' } };
}

function definedOnly(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

/** Unreachable for validated content; a stray value still reaches the customer as its text. */
function unreachable(content: never): LimeDocument {
  const text = (content as { text?: unknown }).text;
  return { type: MIME.text, content: typeof text === 'string' ? text : '' };
}
