/**
 * LIME content documents (research/blip.md §3.2) as TypeBox schemas, compiled once at load.
 * Pure: no I/O.
 *
 * Policy, so that `invalid` means the same thing for every type:
 * - the fields we read are typed, and a field of the wrong type makes the content invalid: guessing
 *   at a malformed payload would show the agent something the customer did not send;
 * - optional fields may also be `null`: serialisers commonly write an absent value that way, and
 *   that is not a malformed document;
 * - fields we never read are not checked (Blip adds fields freely);
 * - where Blip's own examples break the declared type, we accept both (media-link `size` is a
 *   string in [DOC] `content-types/media-link/audio.md` but a number everywhere else).
 *
 * Every schema that can fail carries a `need` annotation: the end of the sentence
 * "`<label>` content needs …", so a failed check yields a short error that names the field.
 */
import { Type, type Static, type TProperties, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, ValueErrorType, type ValueError } from '@sinclair/typebox/compiler';

/** The schema annotation read by `needOf`; not a JSON Schema keyword, so validators ignore it. */
const NEED = 'need';

const object = <P extends TProperties>(properties: P, need = 'to be a JSON object') =>
  Type.Object(properties, { [NEED]: need, additionalProperties: true });

/** Optional and nullable, with the error naming `field`. */
function opt<T extends TSchema>(schema: T, need: string) {
  return Type.Optional(Type.Union([schema, Type.Null()], { [NEED]: need }));
}
const optString = (field: string) => opt(Type.String(), `'${field}' to be a string`);

/** LIME's DocumentContainer `{type, value}`; `where` names it in errors ("'header'", "every option's 'label'"). */
function container(where: string) {
  return object(
    {
      type: Type.String({ minLength: 1, maxLength: 255, [NEED]: `a MIME type string 'type' in ${where}` }),
      value: Type.Optional(Type.Unknown()),
    },
    `${where} to be a {type, value} object`,
  );
}
const documentRef = (where: string) =>
  object(
    {
      id: optString(`${where}.id`),
      type: opt(Type.String({ maxLength: 255 }), `'${where}.type' to be a MIME type string`),
      value: Type.Optional(Type.Unknown()),
    },
    `'${where}' to be an object`,
  );

export const PlainText = Type.String({ [NEED]: 'to be a string' });

/** [LIME] media-link; `uri` is capped like the canonical `MediaContent.url`. */
export const MediaLink = object({
  uri: Type.String({ minLength: 1, maxLength: 8192, [NEED]: "a string 'uri' (at most 8192 characters)" }),
  type: opt(Type.String({ maxLength: 255 }), "'type' to be a MIME type string"),
  size: opt(
    Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^[0-9]{1,15}$' })]),
    "'size' to be a number of bytes",
  ),
  title: optString('title'),
  text: optString('text'),
});

export const WebLink = object({
  uri: Type.String({ minLength: 1, [NEED]: "a string 'uri'" }),
  title: optString('title'),
  text: optString('text'),
});

export const Location = object({
  latitude: Type.Number({ minimum: -90, maximum: 90, [NEED]: "a number 'latitude' between -90 and 90" }),
  longitude: Type.Number({ minimum: -180, maximum: 180, [NEED]: "a number 'longitude' between -180 and 180" }),
  text: optString('text'),
});

/** `options` is optional: observed WhatsApp replies quote a select as `{scope, text}` alone (§3.2, reply row). */
export const Select = object({
  text: optString('text'),
  options: opt(
    Type.Array(
      object(
        {
          text: Type.String({ [NEED]: "a string 'text' in every option" }),
          value: Type.Optional(Type.Unknown()),
        },
        'every option to be an object',
      ),
    ),
    "an array 'options'",
  ),
});

export const DocumentSelect = object({
  header: opt(container("'header'"), "'header' to be a {type, value} object"),
  options: Type.Array(
    object(
      {
        label: container("every option's 'label'"),
        value: opt(container("every option's 'value'"), "every option's 'value' to be a {type, value} object"),
      },
      'every option to be an object',
    ),
    { [NEED]: "an array 'options'" },
  ),
});

export const Collection = object({
  itemType: Type.String({ minLength: 1, maxLength: 255, [NEED]: "a MIME type string 'itemType'" }),
  items: Type.Array(Type.Unknown(), { [NEED]: "an array 'items'" }),
});

/** Also the shape of `sensitive` (research §3.2: `type`, `value` of the wrapped document). */
export const Container = object(
  {
    type: Type.String({ minLength: 1, maxLength: 255, [NEED]: "a MIME type string 'type'" }),
    value: Type.Optional(Type.Unknown()),
  },
  'to be a {type, value} object',
);

export const DocumentList = object({
  header: opt(container("'header'"), "'header' to be a {type, value} object"),
  items: Type.Array(container("every item"), { [NEED]: "an array 'items'" }),
});

export const ChatStateDoc = object({
  state: Type.Union(
    ['starting', 'composing', 'paused', 'deleting', 'gone'].map((s) => Type.Literal(s)),
    { [NEED]: "'state' to be one of starting, composing, paused, deleting, gone" },
  ),
});

export const Input = object({ label: container("'label'") });

/** lime-csharp `Reply.cs`: `replied` is the customer's message, `inReplyTo` the one it quotes. */
export const Reply = object({
  replied: container("'replied'"),
  inReplyTo: opt(documentRef('inReplyTo'), "'inReplyTo' to be an object"),
});

/** lime-csharp `Reaction.cs`: `emoji.values` are Unicode code points (an empty list removes a reaction). */
export const Reaction = object({
  emoji: opt(
    object(
      {
        values: opt(
          Type.Array(Type.Integer({ minimum: 0, maximum: 0x10ffff, [NEED]: "Unicode code points in 'emoji.values'" }), {
            maxItems: 64,
          }),
          "'emoji.values' to be an array of at most 64 code points",
        ),
      },
      "'emoji' to be an object",
    ),
    "'emoji' to be an object",
  ),
  inReactionTo: opt(documentRef('inReactionTo'), "'inReactionTo' to be an object"),
});

export const Redirect = object({
  address: optString('address'),
  context: opt(container("'context'"), "'context' to be a {type, value} object"),
});

export const Resource = object({ key: Type.String({ minLength: 1, [NEED]: "a string 'key'" }) });

/** [OBSERVED] WhatsApp contact card (research §3.2); the Blip contact document's field names. */
export const ContactCard = object({
  name: optString('name'),
  firstName: optString('firstName'),
  lastName: optString('lastName'),
  phoneNumber: optString('phoneNumber'),
  cellPhoneNumber: optString('cellPhoneNumber'),
  email: optString('email'),
});

export type MediaLink = Static<typeof MediaLink>;
export type WebLink = Static<typeof WebLink>;
export type Location = Static<typeof Location>;
export type Select = Static<typeof Select>;
export type DocumentSelect = Static<typeof DocumentSelect>;
export type Collection = Static<typeof Collection>;
export type Container = Static<typeof Container>;
export type DocumentList = Static<typeof DocumentList>;
export type ChatStateDoc = Static<typeof ChatStateDoc>;
export type Input = Static<typeof Input>;
export type Reply = Static<typeof Reply>;
export type Reaction = Static<typeof Reaction>;
export type Redirect = Static<typeof Redirect>;
export type Resource = Static<typeof Resource>;
export type ContactCard = Static<typeof ContactCard>;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** A compiled check for one LIME content type; `label` starts its error messages. */
export interface LimeContentCheck<T> {
  readonly label: string;
  parse(value: unknown): Parsed<T>;
}

function compile<S extends TSchema>(label: string, schema: S): LimeContentCheck<Static<S>> {
  const check = TypeCompiler.Compile(schema);
  return {
    label,
    parse(value) {
      if (check.Check(value)) return { ok: true, value };
      const first = check.Errors(value).First();
      const need = first === undefined ? undefined : needOf(first);
      return { ok: false, error: `${label} content needs ${need ?? `a valid '${first?.path ?? ''}'`}` };
    },
  };
}

/**
 * TypeBox reports a failed union (our optional-or-null fields) at the union itself; the error
 * inside the matching variant is the precise one ("code points in 'emoji.values'", not "'emoji'").
 */
function needOf(error: ValueError): string | undefined {
  if (error.type === ValueErrorType.Union) {
    // The `null` variant has no `need`, so the first annotated inner error is the real one.
    for (const errors of error.errors) {
      const inner = errors.First();
      const need = inner === undefined ? undefined : needOf(inner);
      if (need !== undefined) return need;
    }
  }
  const need: unknown = error.schema[NEED];
  return typeof need === 'string' ? need : undefined;
}

/** The checks, by the short name used in errors ("media-link content needs a string 'uri'"). */
export const limeContent = {
  text: compile('text/plain', PlainText),
  mediaLink: compile('media-link', MediaLink),
  webLink: compile('web-link', WebLink),
  location: compile('location', Location),
  select: compile('select', Select),
  documentSelect: compile('document-select', DocumentSelect),
  collection: compile('collection', Collection),
  container: compile('container', Container),
  list: compile('list', DocumentList),
  chatState: compile('chatstate', ChatStateDoc),
  input: compile('input', Input),
  reply: compile('reply', Reply),
  reaction: compile('reaction', Reaction),
  redirect: compile('redirect', Redirect),
  sensitive: compile('sensitive', Container),
  resource: compile('resource', Resource),
  contact: compile('contact', ContactCard),
} as const;
