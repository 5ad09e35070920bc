/**
 * The canonical content model: what adapters and the custom-tool contract see instead of LIME
 * (DESIGN §5, §6). Every content carries `text`, a complete readable rendering, so a helpdesk that
 * only shows text needs nothing else. The TypeBox schemas double as the JSON Schemas published for
 * the custom-tool contract.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const text = (description: string) => Type.String({ maxLength: 65_536, description });

export const TextContent = Type.Object(
  { type: Type.Literal('text'), text: text('The message text.') },
  { $id: 'TextContent', additionalProperties: true },
);

export const MediaContent = Type.Object(
  {
    type: Type.Literal('media'),
    text: text('Readable rendering: caption, name and link.'),
    url: Type.String({ minLength: 1, maxLength: 8192, description: 'Where the file can be downloaded. Blip media links expire (~30 min).' }),
    mimeType: Type.String({ minLength: 1, maxLength: 255, description: 'MIME type of the file, e.g. image/jpeg.' }),
    name: Type.Optional(Type.String({ maxLength: 1024 })),
    size: Type.Optional(Type.Integer({ minimum: 0, description: 'Bytes.' })),
    caption: Type.Optional(Type.String({ maxLength: 65_536 })),
  },
  { $id: 'MediaContent', additionalProperties: true },
);

export const LocationContent = Type.Object(
  {
    type: Type.Literal('location'),
    text: text('Readable rendering with a map link.'),
    latitude: Type.Number({ minimum: -90, maximum: 90 }),
    longitude: Type.Number({ minimum: -180, maximum: 180 }),
    name: Type.Optional(Type.String({ maxLength: 1024 })),
    address: Type.Optional(Type.String({ maxLength: 2048 })),
  },
  { $id: 'LocationContent', additionalProperties: true },
);

export const ContactContent = Type.Object(
  {
    type: Type.Literal('contact'),
    text: text('Readable rendering of the contact card.'),
    name: Type.String({ maxLength: 1024 }),
    phone: Type.Optional(Type.String({ maxLength: 64 })),
    email: Type.Optional(Type.String({ maxLength: 320 })),
  },
  { $id: 'ContactContent', additionalProperties: true },
);

export const ChoiceOption = Type.Object(
  {
    label: Type.String({ minLength: 1, maxLength: 1024 }),
    value: Type.Optional(Type.String({ maxLength: 1024, description: 'What comes back when the customer picks it; defaults to the label.' })),
  },
  { additionalProperties: true },
);

export const ChoicesContent = Type.Object(
  {
    type: Type.Literal('choices'),
    text: text('From an agent: the prompt shown above the options. In events we send: the prompt followed by a numbered list of the options.'),
    prompt: Type.Optional(Type.String({ maxLength: 65_536, description: 'The prompt alone (set in events we send).' })),
    options: Type.Array(ChoiceOption, { minItems: 1, maxItems: 100 }),
  },
  { $id: 'ChoicesContent', additionalProperties: true },
);

export const ReplyContent = Type.Object(
  {
    type: Type.Literal('reply'),
    text: text('Readable rendering: the quoted original, then the reply.'),
    reply: Type.Optional(Type.String({ maxLength: 65_536, description: 'The reply alone, without the quote.' })),
    inReplyTo: Type.Object(
      { id: Type.Optional(Type.String({ maxLength: 1024 })), text: Type.String({ maxLength: 65_536 }) },
      { additionalProperties: true },
    ),
  },
  { $id: 'ReplyContent', additionalProperties: true },
);

export const UnsupportedContent = Type.Object(
  {
    type: Type.Literal('unsupported'),
    text: text('A readable fallback of the original content.'),
    mimeType: Type.String({ maxLength: 255, description: 'The original LIME type.' }),
  },
  { $id: 'UnsupportedContent', additionalProperties: true },
);

/** A content of a message (customer, bot transcript or agent). Chat states are not messages: see ChatState. */
export const Content = Type.Union(
  [TextContent, MediaContent, LocationContent, ContactContent, ChoicesContent, ReplyContent, UnsupportedContent],
  { $id: 'Content' },
);

export type TextContent = Static<typeof TextContent>;
export type MediaContent = Static<typeof MediaContent>;
export type LocationContent = Static<typeof LocationContent>;
export type ContactContent = Static<typeof ContactContent>;
export type ChoicesContent = Static<typeof ChoicesContent>;
export type ReplyContent = Static<typeof ReplyContent>;
export type UnsupportedContent = Static<typeof UnsupportedContent>;
export type Content = Static<typeof Content>;
export type ContentType = Content['type'];

export const ChatState = Type.Union([Type.Literal('typing'), Type.Literal('paused')]);
export type ChatState = Static<typeof ChatState>;

/** Every schema above, for publishing as JSON Schema ($defs). */
export const contentSchemas: readonly TSchema[] = [
  TextContent, MediaContent, LocationContent, ContactContent, ChoicesContent, ReplyContent, UnsupportedContent,
];

/**
 * Why an agent's content cannot be sent to the customer, or undefined when it can. Checked once for
 * every helpdesk after its adapter parsed the event (src/helpdesks/routes.ts), so no adapter can let
 * an empty message or a link Blip cannot fetch reach a customer.
 */
export function unsendable(c: Content): string | undefined {
  switch (c.type) {
    case 'text':
    case 'unsupported':
      return c.text.trim() === '' ? 'the text is empty' : undefined;
    case 'choices':
      return (c.prompt ?? c.text).trim() === '' ? 'the prompt above the options is empty' : undefined;
    case 'media':
      return isHttpUrl(c.url) ? undefined : `the media url must be an http(s) URL the customer's channel can fetch (got ${JSON.stringify(c.url.slice(0, 80))})`;
    default:
      return undefined;
  }
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname !== '';
  } catch {
    return false;
  }
}
