/**
 * LIME ⇄ canonical conversion. Fixtures are copied from the examples research/blip.md cites; each
 * names its source ([DOC] = takenet/blip-docs `source/includes/en/<path>`, snapshot d81a7c3).
 */
import { readFileSync } from 'node:fs';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { Content, type Content as ContentT } from '../../src/core/content.js';
import { chatStateToLime, contentToLime, limeToContent, readableText, type LimeInbound } from '../../src/core/convert.js';
import { MIME } from '../../src/lime/envelope.js';

const canonical = TypeCompiler.Compile(Content);

/** Converts and checks the result is a content that the published canonical schema accepts. */
function toContent(type: string, value: unknown): ContentT {
  const result = limeToContent(type, value);
  if (result.kind !== 'content') throw new Error(`expected a content, got ${JSON.stringify(result)}`);
  expect([...canonical.Errors(result.content)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
  return result.content;
}

function errorOf(type: string, value: unknown): string {
  const result = limeToContent(type, value);
  if (result.kind !== 'invalid') throw new Error(`expected invalid, got ${JSON.stringify(result)}`);
  return result.error;
}

// ---------------------------------------------------------------------------------------------
// Fixtures

// [DOC] content-types/text.md
const TEXT = 'Welcome to our service! How can I help you?';

// [DOC] content-types/media-link/media-link.md (also research §3.2 media-link row)
const MEDIA_IMAGE = {
  title: 'Cat',
  text: 'Here is a cat image for you!',
  type: 'image/jpeg',
  uri: 'http://2.bp.blogspot.com/-pATX0YgNSFs/VP-82AQKcuI/AAAAAAAALSU/Vet9e7Qsjjw/s1600/Cat-hd-wallpapers.jpg',
  aspectRatio: '1:1',
  size: 227791,
  previewUri: 'https://encrypted-tbn3.gstatic.com/images?q=tbn:ANd9GcS8qkelB28RstsNxLi7gbrwCLsBVmobPjb5IrwKJSuqSnGX4IzX',
  previewType: 'image/jpeg',
};

// [DOC] content-types/media-link/audio.md — note `size` is a string in this page.
const MEDIA_AUDIO = { type: 'audio/mp3', uri: 'http://blaamandagjazzband.dk/jazz/mp3/basin_street_blues.mp3', size: '3124123' };

// [DOC] content-types/media-link/documents.md
const MEDIA_PDF = {
  title: 'pdf_open_parameters.pdf',
  uri: 'https://gradcollege.okstate.edu/sites/default/files/PDF_linking.pdf',
  type: 'application/pdf',
  size: 5540,
};

// [DOC] content-types/web-link.md (research §3.2 web-link row)
const WEB_LINK = { uri: 'http://limeprotocol.org/content-types.html#web-link', target: 'self', text: 'Here is a documentation weblink' };

// [DOC] content-types/location/location.md (research §3.2 location row)
const LOCATION = { latitude: -19.918899, longitude: -43.959275, altitude: 853, text: "Take's place" };

// [DOC] content-types/menu/quickreply.md (HTTP example)
const QUICK_REPLY = {
  scope: 'immediate',
  text: 'Choose an option',
  options: [
    { text: 'First option' },
    { order: 2, text: 'Second option' },
    { order: 3, text: 'Third option', type: 'application/json', value: { key1: 'value1', key2: 2 } },
  ],
};

// [DOC] content-types/multimedia-menu.md (first HTTP example)
const MULTIMEDIA_MENU = {
  header: {
    type: 'application/vnd.lime.media-link+json',
    value: {
      title: 'Welcome to mad hatter',
      text: 'Here we have the best hats for your head.',
      type: 'image/jpeg',
      uri: 'http://petersapparel.parseapp.com/img/item100-thumb.png',
      aspectRatio: '1:1',
    },
  },
  options: [
    {
      label: {
        type: 'application/vnd.lime.web-link+json',
        value: { text: 'Go to our site', uri: 'https://petersapparel.parseapp.com/view_item?item_id=100' },
      },
    },
    { label: { type: 'text/plain', value: 'Show stock' }, value: { type: 'application/json', value: { action: 'show-items' } } },
  ],
};

// [DOC] content-types/multimedia-menu.md and content-types/collection.md (carousel, message id 5)
const CAROUSEL = {
  itemType: 'application/vnd.lime.document-select+json',
  items: [
    {
      header: {
        type: 'application/vnd.lime.media-link+json',
        value: {
          title: 'Title',
          text: 'This is a first item',
          type: 'image/jpeg',
          uri: 'http://www.isharearena.com/wp-content/uploads/2012/12/wallpaper-281049.jpg',
        },
      },
      options: [
        { label: { type: 'application/vnd.lime.web-link+json', value: { title: 'Link', uri: 'http://www.adoteumgatinho.org.br' } } },
        { label: { type: 'text/plain', value: 'Text 1' }, value: { type: 'application/json', value: { key1: 'value1', key2: 2 } } },
      ],
    },
    {
      header: {
        type: 'application/vnd.lime.media-link+json',
        value: {
          title: 'Title 2',
          text: 'This is another item',
          type: 'image/jpeg',
          uri: 'http://www.freedigitalphotos.net/images/img/homepage/87357.jpg',
        },
      },
      options: [
        {
          label: {
            type: 'application/vnd.lime.web-link+json',
            value: {
              title: 'Second link',
              text: 'Weblink',
              uri: 'https://pt.dreamstime.com/foto-de-stock-brinquedo-pl%C3%A1stico-amarelo-do-pato-image44982058',
            },
          },
        },
        { label: { type: 'text/plain', value: 'Second text' }, value: { type: 'application/json', value: { key3: 'value3', key4: 4 } } },
        { label: { type: 'text/plain', value: 'More one text' }, value: { type: 'application/json', value: { key5: 'value5', key6: 6 } } },
      ],
    },
  ],
};

// [DOC] content-types/collection.md (text/plain items)
const COLLECTION_TEXT = { itemType: 'text/plain', items: ['Text 1', 'Text 2', 'Text 3'] };

// [DOC] content-types/collection.md ("A different type of collection, using container")
const COLLECTION_CONTAINERS = {
  itemType: 'application/vnd.lime.container+json',
  items: [
    {
      type: 'application/vnd.lime.media-link+json',
      value: {
        text: 'Welcome to our store!',
        type: 'image/jpeg',
        uri: 'http://www.petshoplovers.com/wp-content/uploads/2014/03/CUIDADOS-B%C3%81SICOS-PARA-CRIAR-COELHOS.jpg',
      },
    },
    {
      type: 'application/vnd.lime.select+json',
      value: { text: 'Choose what you need', options: [{ order: 1, text: 'See our stock' }, { order: 2, text: 'Follow an order' }] },
    },
  ],
};

// [DOC] content-types/list.md (JavaScript example; the page has no HTTP one)
const LIST = {
  header: {
    type: 'application/vnd.lime.web-link+json',
    value: {
      title: 'Classic T-Shirt Collection',
      text: 'See all our colors',
      previewUri: 'http://streetwearvilla.com/image/cache/data/Products/Supreme/T-shirt/supreme-box-logo-t-shirt-collection-600x600.png',
      uri: 'http://streetwearvilla.com/supreme-box-logo-t-shirt-white',
      target: 'selfTall',
    },
  },
  items: [
    {
      type: 'application/vnd.lime.web-link+json',
      value: {
        title: 'Classic White T-Shirt',
        text: '100% Cotton, 200% Comfortable',
        previewUri: 'http://www.plainwhitetshirt.co.uk/image/cache/catalog/images/GD010vwhiteteegildan-750x750.jpg',
        uri: 'http://www.plainwhitetshirt.co.uk/gildan-soft-style-white-vneck-tshirt',
        target: 'selfTall',
      },
    },
    {
      type: 'application/vnd.lime.web-link+json',
      value: {
        title: 'Classic Blue T-Shirt',
        text: '100% Cotton, 200% Comfortable',
        previewUri: 'https://cdn.shopify.com/s/files/1/1475/5420/products/Classic_Blue_Front_12068_1024x1024.jpg?',
        uri: 'https://www.theringboxingclubshop.com/products/ring-classic-blue-t-shirt',
        target: 'selfTall',
      },
    },
  ],
};

// [DOC] content-types/chatstate.md
const CHATSTATE = { state: 'composing' };

// [DOC] content-types/input.md
const INPUT_TEXT = { label: { type: 'text/plain', value: 'What is your name?' }, validation: { rule: 'text' } };
// [DOC] content-types/location/receive-location.md (research §3.2 input row)
const INPUT_LOCATION = {
  label: { type: 'text/plain', value: 'Send your location please!' },
  validation: { rule: 'type', type: 'application/vnd.lime.location+json' },
};

// [OBSERVED] WhatsApp reply, research/blip.md §3.2 reply row (id and prompt are cut with "…" there, kept as is)
const REPLY_WHATSAPP = {
  replied: { type: 'text/plain', value: 'Plano de Saúde' },
  inReplyTo: {
    id: '4322620c-…',
    type: 'application/vnd.lime.select+json',
    value: { scope: 'immediate', text: 'Por favor, escolha…' },
  },
};

// Shape of lime-csharp src/Lime.Messaging/Contents/Reaction.cs (research §3.2 reaction row): code points 👍 = U+1F44D.
const REACTION = {
  emoji: { values: [0x1f44d] },
  inReactionTo: { id: '4322620c-…', type: 'text/plain', value: 'Plano de Saúde', direction: 'sent' },
};

// lime-csharp src/Lime.Messaging/Contents/DeletedContent.cs: no fields (research §3.2).
const DELETED = {};

// [DOC] content-types/redirect.md (research §2.5)
const REDIRECT_SERVICE = { address: 'attendance' };
const REDIRECT_CONTEXT = { address: 'mysdkbot@msging.net', context: { type: 'text/plain', value: 'Get started' } };
// [DOC] extensions/desk.md "Handling the end of an attendance" (research §2.5)
const REDIRECT_DESK_TICKET = {
  context: {
    type: 'application/vnd.iris.ticket+json',
    value: {
      id: '1654804277843415',
      sequentialId: 0,
      sequentialSuffix: 'SFX',
      ownerIdentity: 'bot@msging.net',
      customerIdentity: '1654804277843415@messenger.gw.msging.net',
      agentIdentity: 'ravpacheco%40gmail.com@blip.ai',
      status: 'ClosedAttendant',
      storageDate: '2018-03-20T20:41:54.330Z',
      externalId: '3cf18133-7b0f-47d2-8719-bbaec6ee14e4',
      rating: 0,
      team: 'Default',
      unreadMessages: 0,
    },
  },
};

// [DOC] content-types/sensitive.md (both HTTP examples)
const SENSITIVE_TEXT = { type: 'text/plain', value: 'Your password is 123456' };
const SENSITIVE_WEBLINK = {
  type: 'application/vnd.lime.web-link+json',
  value: { text: 'Please follow this link for the checkout', uri: 'https://mystore.com/checkout?ID=A8DJS1JFV98AJKS9' },
};

// [DOC] content-types/resource.md
const RESOURCE = { key: 'welcome-message' };

// [DOC] content-types/native.md (first HTTP example); the second is in test/fixtures/lime/native-boarding-pass.json
const NATIVE_TEXT = { text: 'hello, world!' };
const NATIVE_BOARDING_PASS = JSON.parse(
  readFileSync(new URL('../fixtures/lime/native-boarding-pass.json', import.meta.url), 'utf8'),
) as { type: string; content: unknown };

// [OBSERVED] WhatsApp contact card, research/blip.md §3.2 contact row: {name, phoneNumber, cellPhoneNumber, firstName, extras:{org}}
const CONTACT_CARD = {
  name: 'Maria Souza',
  firstName: 'Maria',
  phoneNumber: '+55 11 91234-5678',
  cellPhoneNumber: '5511912345678',
  extras: { org: 'Acme' },
};

// [DOC] content-types/payment-invoice.md
const INVOICE = {
  created: '2016-08-26T19:03:37.024Z',
  dueTo: '2016-08-27T19:03:37.024Z',
  currency: 'BRL',
  total: 10.85,
  items: [{ quantity: 1.0, unit: 10.85, currency: 'BRL', total: 10.85, description: 'Subscription for product: Hit' }],
};
// [DOC] content-types/payment-receipt.md
const PAYMENT_RECEIPT = {
  paidOn: '2016-08-26T19:03:37.024Z',
  code: '215BF6B5-01EF-4F9A-A944-0BC05FD0F228',
  method: { name: 'Credit Card' },
  currency: 'BRL',
  total: 10.85,
  items: [{ quantity: 1.0, unit: 10.85, currency: 'BRL', total: 10.85, description: 'Item 1' }],
};
// [DOC] documents/ticket.md create response (research §4.4)
const TICKET = {
  id: '76f5bc38-b476-4895-a0c6-016ed1288ba0',
  sequentialId: 138,
  sequentialSuffix: 'SFX',
  ownerIdentity: 'demobot@msging.net',
  customerIdentity: '2627641447@messenger.gw.msging.net',
  customerDomain: 'messenger.gw.msging.net',
  provider: 'Lime',
  status: 'Waiting',
  storageDate: '2019-12-04T13:45:25.664Z',
  externalId: '76f5bc38-b476-4895-a0c6-016ed1288ba0',
  rating: 0,
  team: 'Default',
  unreadMessages: 0,
  closed: false,
  customerInput: {},
  priority: 0,
};

// ---------------------------------------------------------------------------------------------

describe('limeToContent: one test per LIME type (research/blip.md §3.2)', () => {
  it('text/plain → text', () => {
    expect(toContent(MIME.text, TEXT)).toStrictEqual({ type: 'text', text: TEXT });
  });

  it('media-link → media, with the link and the caption on its own line', () => {
    expect(toContent(MIME.mediaLink, MEDIA_IMAGE)).toStrictEqual({
      type: 'media',
      text: `📎 Cat (image/jpeg) ${MEDIA_IMAGE.uri}\nHere is a cat image for you!`,
      url: MEDIA_IMAGE.uri,
      mimeType: 'image/jpeg',
      name: 'Cat',
      size: 227791,
      caption: 'Here is a cat image for you!',
    });
  });

  it('media-link whose size is a numeric string (audio.md) keeps the size as a number', () => {
    expect(toContent(MIME.mediaLink, MEDIA_AUDIO)).toStrictEqual({
      type: 'media',
      text: `📎 (audio/mp3) ${MEDIA_AUDIO.uri}`,
      url: MEDIA_AUDIO.uri,
      mimeType: 'audio/mp3',
      size: 3124123,
    });
  });

  it('media-link document keeps its file name', () => {
    const media = toContent(MIME.mediaLink, MEDIA_PDF);
    expect(media).toMatchObject({ type: 'media', name: 'pdf_open_parameters.pdf', mimeType: 'application/pdf', size: 5540 });
    expect(media.text).toBe(`📎 pdf_open_parameters.pdf (application/pdf) ${MEDIA_PDF.uri}`);
  });

  it('media-link without a type is application/octet-stream', () => {
    expect(toContent(MIME.mediaLink, { uri: MEDIA_PDF.uri })).toMatchObject({ mimeType: 'application/octet-stream' });
  });

  it('web-link → text with the link', () => {
    expect(toContent(MIME.webLink, WEB_LINK)).toStrictEqual({
      type: 'text',
      text: `🔗 ${WEB_LINK.uri}\nHere is a documentation weblink`,
    });
  });

  it('location → location with a map link', () => {
    expect(toContent(MIME.location, LOCATION)).toStrictEqual({
      type: 'location',
      text: "📍 Take's place (-19.918899, -43.959275)\nhttps://maps.google.com/?q=-19.918899,-43.959275",
      latitude: -19.918899,
      longitude: -43.959275,
      name: "Take's place",
    });
  });

  it('location without text is called "Location"', () => {
    expect(toContent(MIME.location, { latitude: 1.5, longitude: -2 }).text).toBe(
      '📍 Location (1.5, -2)\nhttps://maps.google.com/?q=1.5,-2',
    );
  });

  it('select → choices with a numbered list; non-string values become JSON', () => {
    expect(toContent(MIME.select, QUICK_REPLY)).toStrictEqual({
      type: 'choices',
      text: 'Choose an option\n1. First option\n2. Second option\n3. Third option',
      prompt: 'Choose an option',
      options: [{ label: 'First option' }, { label: 'Second option' }, { label: 'Third option', value: '{"key1":"value1","key2":2}' }],
    });
  });

  it('select keeps string values as they are', () => {
    const select = { text: 'Plano?', options: [{ order: 1, text: 'Saúde', type: 'text/plain', value: 'health' }] };
    expect(toContent(MIME.select, select)).toMatchObject({ options: [{ label: 'Saúde', value: 'health' }] });
  });

  it('select options without text are numbered, and over-long values are dropped rather than cut', () => {
    const select = { options: [{ text: ' ', value: 'v1' }, { text: 'B', value: 'x'.repeat(1025) }] };
    expect(toContent(MIME.select, select)).toStrictEqual({
      type: 'choices',
      text: '1. Option 1\n2. B',
      options: [{ label: 'Option 1', value: 'v1' }, { label: 'B' }],
    });
  });

  it('document-select with text and web-link labels → choices; the header is the prompt and links stay in the text', () => {
    const header = `📎 Welcome to mad hatter (image/jpeg) http://petersapparel.parseapp.com/img/item100-thumb.png\nHere we have the best hats for your head.`;
    expect(toContent(MIME.documentSelect, MULTIMEDIA_MENU)).toStrictEqual({
      type: 'choices',
      text: `${header}\n1. Go to our site https://petersapparel.parseapp.com/view_item?item_id=100\n2. Show stock`,
      prompt: header,
      options: [{ label: 'Go to our site' }, { label: 'Show stock', value: '{"action":"show-items"}' }],
    });
  });

  it('document-select with a media label → readable text, each label rendered', () => {
    // Derived from MULTIMEDIA_MENU: a label may be any document (research §3.2 document-select row).
    const menu = {
      header: { type: 'text/plain', value: 'Pick a hat' },
      options: [
        {
          label: {
            type: 'application/vnd.lime.media-link+json',
            value: { title: 'Top hat', text: 'Black, size M', type: 'image/png', uri: 'https://x.example/top.png' },
          },
        },
        { label: { type: 'text/plain', value: 'Show stock' } },
      ],
    };
    expect(toContent(MIME.documentSelect, menu)).toStrictEqual({
      type: 'text',
      // Continuation lines of a multi-line label are indented under its number.
      text: 'Pick a hat\n1. 📎 Top hat (image/png) https://x.example/top.png\n   Black, size M\n2. Show stock',
    });
  });

  it('collection of document-selects (carousel) → text: each card with its title, image and links', () => {
    expect(toContent(MIME.collection, CAROUSEL)).toStrictEqual({
      type: 'text',
      text: [
        '📎 Title (image/jpeg) http://www.isharearena.com/wp-content/uploads/2012/12/wallpaper-281049.jpg',
        'This is a first item',
        '1. Link http://www.adoteumgatinho.org.br',
        '2. Text 1',
        '',
        '📎 Title 2 (image/jpeg) http://www.freedigitalphotos.net/images/img/homepage/87357.jpg',
        'This is another item',
        '1. Second link https://pt.dreamstime.com/foto-de-stock-brinquedo-pl%C3%A1stico-amarelo-do-pato-image44982058',
        '2. Second text',
        '3. More one text',
      ].join('\n'),
    });
  });

  it('collection of text/plain → the items separated by blank lines', () => {
    expect(toContent(MIME.collection, COLLECTION_TEXT)).toStrictEqual({ type: 'text', text: 'Text 1\n\nText 2\n\nText 3' });
  });

  it('collection of containers → each inner document rendered', () => {
    expect(toContent(MIME.collection, COLLECTION_CONTAINERS)).toStrictEqual({
      type: 'text',
      text:
        `📎 (image/jpeg) ${COLLECTION_CONTAINERS.items[0]?.value.uri}\nWelcome to our store!` +
        '\n\nChoose what you need\n1. See our stock\n2. Follow an order',
    });
  });

  it('container → the inner document, with its structure', () => {
    expect(toContent(MIME.container, { type: MIME.mediaLink, value: MEDIA_PDF })).toStrictEqual(toContent(MIME.mediaLink, MEDIA_PDF));
    expect(toContent(MIME.container, REDIRECT_CONTEXT.context)).toStrictEqual({ type: 'text', text: 'Get started' });
  });

  it('list → text: header then items', () => {
    expect(toContent(MIME.list, LIST)).toStrictEqual({
      type: 'text',
      text: [
        '🔗 Classic T-Shirt Collection http://streetwearvilla.com/supreme-box-logo-t-shirt-white',
        'See all our colors',
        '',
        '🔗 Classic White T-Shirt http://www.plainwhitetshirt.co.uk/gildan-soft-style-white-vneck-tshirt',
        '100% Cotton, 200% Comfortable',
        '',
        '🔗 Classic Blue T-Shirt https://www.theringboxingclubshop.com/products/ring-classic-blue-t-shirt',
        '100% Cotton, 200% Comfortable',
      ].join('\n'),
    });
  });

  it('chatstate → chatstate (composing is typing)', () => {
    expect(limeToContent(MIME.chatstate, CHATSTATE)).toStrictEqual({ kind: 'chatstate', state: 'typing' });
  });

  it.each([
    ['starting', 'typing'],
    ['composing', 'typing'],
    ['paused', 'paused'],
    ['deleting', 'paused'],
    ['gone', 'paused'],
  ] as const)('chatstate %s → %s', (state, expected) => {
    expect(limeToContent(MIME.chatstate, { state })).toStrictEqual({ kind: 'chatstate', state: expected });
  });

  it('input → text of its label', () => {
    expect(toContent(MIME.input, INPUT_TEXT)).toStrictEqual({ type: 'text', text: 'What is your name?' });
    expect(toContent(MIME.input, INPUT_LOCATION)).toStrictEqual({ type: 'text', text: 'Send your location please!' });
  });

  it('reply → reply quoting the original', () => {
    expect(toContent(MIME.reply, REPLY_WHATSAPP)).toStrictEqual({
      type: 'reply',
      text: '> Por favor, escolha…\nPlano de Saúde',
      reply: 'Plano de Saúde',
      inReplyTo: { id: '4322620c-…', text: 'Por favor, escolha…' },
    });
  });

  it('reply quotes every line of a multi-line original', () => {
    const reply = {
      replied: { type: 'text/plain', value: '2' },
      inReplyTo: { id: 'm1', type: MIME.select, value: { text: 'Which?', options: [{ text: 'A' }, { text: 'B' }] } },
    };
    expect(toContent(MIME.reply, reply).text).toBe('> Which?\n> 1. A\n> 2. B\n2');
  });

  it('reply quotes at most ~1000 characters but keeps the whole original in inReplyTo', () => {
    const original = 'a'.repeat(5000);
    const reply = toContent(MIME.reply, { replied: { type: MIME.text, value: 'ok' }, inReplyTo: { type: MIME.text, value: original } });
    if (reply.type !== 'reply') throw new Error(reply.type);
    expect(reply.text).toBe(`> ${'a'.repeat(999)}…\nok`);
    expect(reply.inReplyTo.text).toBe(original);
  });

  it('reply to a quoted message without type treats a string as text', () => {
    const reply = toContent(MIME.reply, { replied: { type: MIME.text, value: 'sim' }, inReplyTo: { id: 'x', value: 'Confirma?' } });
    expect(reply).toMatchObject({ text: '> Confirma?\nsim', inReplyTo: { id: 'x', text: 'Confirma?' } });
  });

  it('reply without inReplyTo is just the replied message', () => {
    expect(toContent(MIME.reply, { replied: { type: MIME.location, value: LOCATION } })).toStrictEqual(toContent(MIME.location, LOCATION));
  });

  it('reaction → text naming the emoji and the message', () => {
    expect(toContent(MIME.reaction, REACTION)).toStrictEqual({ type: 'text', text: 'Reacted 👍 to: “Plano de Saúde”' });
  });

  it('reaction with several code points joins them into one emoji', () => {
    const thumbsMedium = { emoji: { values: [0x1f44d, 0x1f3fd] } };
    expect(toContent(MIME.reaction, thumbsMedium).text).toBe('Reacted 👍🏽');
  });

  it('reaction quotes a multi-line message on one line', () => {
    const reaction = { emoji: { values: [0x2764, 0xfe0f] }, inReactionTo: { type: MIME.select, value: QUICK_REPLY } };
    expect(toContent(MIME.reaction, reaction).text).toBe(
      'Reacted ❤️ to: “Choose an option 1. First option 2. Second option 3. Third option”',
    );
  });

  it('reaction with no emoji is a removal', () => {
    expect(toContent(MIME.reaction, { emoji: { values: [] }, inReactionTo: REACTION.inReactionTo }).text).toBe(
      'Removed a reaction from: “Plano de Saúde”',
    );
  });

  it('deleted-content → unsupported saying so', () => {
    expect(toContent(MIME.deleted, DELETED)).toStrictEqual({
      type: 'unsupported',
      mimeType: MIME.deleted,
      text: '(the customer deleted a message)',
    });
  });

  it('redirect → unsupported with where it goes and its context', () => {
    expect(toContent(MIME.redirect, REDIRECT_SERVICE)).toStrictEqual({
      type: 'unsupported',
      mimeType: MIME.redirect,
      text: '(redirected to attendance)',
    });
    expect(toContent(MIME.redirect, REDIRECT_CONTEXT).text).toBe('(redirected to mysdkbot@msging.net)\nContext: Get started');
    const desk = toContent(MIME.redirect, REDIRECT_DESK_TICKET).text;
    expect(desk.startsWith('(redirected to the main service)\nContext: {"id":"1654804277843415",')).toBe(true);
  });

  it('sensitive → the wrapped document, unwrapped', () => {
    expect(toContent(MIME.sensitive, SENSITIVE_TEXT)).toStrictEqual({ type: 'text', text: 'Your password is 123456' });
    expect(toContent(MIME.sensitive, SENSITIVE_WEBLINK)).toStrictEqual({
      type: 'text',
      text: '🔗 https://mystore.com/checkout?ID=A8DJS1JFV98AJKS9\nPlease follow this link for the checkout',
    });
  });

  it('iris resource → unsupported naming the key', () => {
    expect(toContent(MIME.resource, RESOURCE)).toStrictEqual({
      type: 'unsupported',
      mimeType: MIME.resource,
      text: '(Blip resource "welcome-message")',
    });
  });

  it('application/json → unsupported with compact JSON', () => {
    expect(toContent(MIME.json, NATIVE_TEXT)).toStrictEqual({ type: 'unsupported', mimeType: MIME.json, text: '{"text":"hello, world!"}' });
  });

  it('application/json larger than the preview is cut near 1000 characters', () => {
    const text = toContent(NATIVE_BOARDING_PASS.type, NATIVE_BOARDING_PASS.content).text;
    const full = JSON.stringify(NATIVE_BOARDING_PASS.content);
    expect(full.length).toBeGreaterThan(1000);
    expect(text.length).toBe(1000);
    expect(text.endsWith('…')).toBe(true);
    expect(full.startsWith(text.slice(0, -1))).toBe(true);
  });

  it('contact (WhatsApp card) → contact', () => {
    expect(toContent(MIME.contact, CONTACT_CARD)).toStrictEqual({
      type: 'contact',
      text: '👤 Maria Souza\n📞 +55 11 91234-5678',
      name: 'Maria Souza',
      phone: '+55 11 91234-5678',
    });
  });

  it('contact falls back to first and last name and the cell phone, and shows the email', () => {
    const card = { firstName: 'João', lastName: 'Lima', cellPhoneNumber: '5511999990000', email: 'joao@example.com' };
    expect(toContent(MIME.contact, card)).toStrictEqual({
      type: 'contact',
      text: '👤 João Lima\n📞 5511999990000\n✉️ joao@example.com',
      name: 'João Lima',
      phone: '5511999990000',
      email: 'joao@example.com',
    });
  });

  it('contact keeps an over-long phone in the text only', () => {
    const phone = '9'.repeat(65);
    expect(toContent(MIME.contact, { name: 'Ana', phoneNumber: phone })).toStrictEqual({
      type: 'contact',
      text: `👤 Ana\n📞 ${phone}`,
      name: 'Ana',
    });
  });

  it.each([
    ['application/vnd.lime.invoice+json', INVOICE],
    ['application/vnd.lime.payment-receipt+json', PAYMENT_RECEIPT],
    [MIME.ticket, TICKET],
  ])('%s → unsupported with its JSON', (type, value) => {
    expect(toContent(type, value)).toStrictEqual({ type: 'unsupported', mimeType: type, text: JSON.stringify(value) });
  });

  it('an unknown type with a string content → unsupported with the string', () => {
    expect(toContent('application/vnd.lime.ssml-text+json', '<speak>Oi</speak>')).toStrictEqual({
      type: 'unsupported',
      mimeType: 'application/vnd.lime.ssml-text+json',
      text: '<speak>Oi</speak>',
    });
  });

  it('MIME parameters and case do not hide a known type', () => {
    expect(toContent('Text/Plain; charset=utf-8', 'oi')).toStrictEqual({ type: 'text', text: 'oi' });
  });
});

describe('limeToContent: invalid known contents name the field', () => {
  it.each<[string, unknown, string]>([
    [MIME.text, 42, 'text/plain content needs to be a string'],
    [MIME.mediaLink, { title: 'Cat', type: 'image/jpeg' }, "media-link content needs a string 'uri' (at most 8192 characters)"],
    [MIME.mediaLink, 'http://x/cat.jpg', 'media-link content needs to be a JSON object'],
    [MIME.mediaLink, { uri: 'http://x', size: -1 }, "media-link content needs 'size' to be a number of bytes"],
    [MIME.mediaLink, { uri: 'http://x', type: 7 }, "media-link content needs 'type' to be a MIME type string"],
    [MIME.webLink, { uri: 'http://x', title: 5 }, "web-link content needs 'title' to be a string"],
    [MIME.location, { latitude: 'abc', longitude: 1 }, "location content needs a number 'latitude' between -90 and 90"],
    [MIME.location, { latitude: 91, longitude: 1 }, "location content needs a number 'latitude' between -90 and 90"],
    [MIME.location, { latitude: 1 }, "location content needs a number 'longitude' between -180 and 180"],
    [MIME.select, { text: 'Pick', options: [{ order: 1 }] }, "select content needs a string 'text' in every option"],
    [MIME.documentSelect, { header: { type: 'text/plain', value: 'x' } }, "document-select content needs an array 'options'"],
    [MIME.documentSelect, { options: [{ label: { value: 'x' } }] }, "document-select content needs a MIME type string 'type' in every option's 'label'"],
    [MIME.collection, { itemType: 'text/plain', items: {} }, "collection content needs an array 'items'"],
    [MIME.collection, { items: [] }, "collection content needs a MIME type string 'itemType'"],
    [MIME.container, { value: 'x' }, "container content needs a MIME type string 'type'"],
    [MIME.list, { items: [{ value: 1 }] }, "list content needs a MIME type string 'type' in every item"],
    [MIME.chatstate, { state: 'dancing' }, "chatstate content needs 'state' to be one of starting, composing, paused, deleting, gone"],
    [MIME.input, { validation: { rule: 'text' } }, "input content needs 'label' to be a {type, value} object"],
    [MIME.reply, { inReplyTo: { id: '1' } }, "reply content needs 'replied' to be a {type, value} object"],
    [MIME.reply, { replied: { type: MIME.mediaLink, value: {} } }, "reply 'replied': media-link content needs a string 'uri' (at most 8192 characters)"],
    [MIME.reaction, { emoji: { values: [0x110000] } }, "reaction content needs Unicode code points in 'emoji.values'"],
    [MIME.redirect, { address: 3 }, "redirect content needs 'address' to be a string"],
    [MIME.sensitive, { type: MIME.location, value: { latitude: 'x', longitude: 0 } }, "location content needs a number 'latitude' between -90 and 90"],
    [MIME.resource, { variables: {} }, "resource content needs a string 'key'"],
    [MIME.contact, { name: 'Ana', phoneNumber: 5511 }, "contact content needs 'phoneNumber' to be a string"],
  ])('%s %j', (type, value, error) => {
    expect(errorOf(type, value)).toBe(error);
  });

  it('a media-link uri longer than the canonical url limit is invalid', () => {
    expect(errorOf(MIME.mediaLink, { uri: `https://x/${'a'.repeat(8192)}` })).toContain("'uri'");
  });

  it('malformed nested documents degrade to JSON instead of failing the message', () => {
    const collection = { itemType: MIME.mediaLink, items: [{ title: 'no uri' }, MEDIA_PDF] };
    expect(toContent(MIME.collection, collection).text).toBe(
      `{"title":"no uri"}\n\n📎 pdf_open_parameters.pdf (application/pdf) ${MEDIA_PDF.uri}`,
    );
  });
});

describe('limeToContent: never throws', () => {
  const deepArray = (depth: number): unknown => {
    let v: unknown = 'bottom';
    for (let i = 0; i < depth; i++) v = [v];
    return v;
  };
  const deepContainers = (depth: number, inner: { type: string; value: unknown }): { type: string; value: unknown } => {
    let v = inner;
    for (let i = 0; i < depth; i++) v = { type: MIME.container, value: v };
    return v;
  };
  const cyclic: Record<string, unknown> = { type: MIME.text };
  cyclic.value = cyclic;
  cyclic.items = [cyclic];
  const hostile = new Proxy(
    {},
    {
      get() {
        throw new Error('boom');
      },
      has() {
        throw new Error('boom');
      },
      ownKeys() {
        throw new Error('boom');
      },
      getOwnPropertyDescriptor() {
        throw new Error('boom');
      },
    },
  );
  const megabyte = 'x'.repeat(1024 * 1024);

  const weird: [string, unknown][] = [
    ['null', null],
    ['undefined', undefined],
    ['zero', 0],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['true', true],
    ['empty string', ''],
    ['bigint', 10n],
    ['symbol', Symbol('s')],
    ['function', () => 1],
    ['date', new Date(0)],
    ['empty array', []],
    ['mixed array', [1, 'a', null, { uri: 3 }]],
    ['empty object', {}],
    ['null-prototype object', Object.create(null) as unknown],
    ['deep array', deepArray(100_000)],
    ['deep containers', deepContainers(10_000, { type: MIME.text, value: 'hi' })],
    ['cyclic', cyclic],
    ['hostile proxy', hostile],
    ['1 MB string', megabyte],
    [
      '1 MB fields',
      {
        ...{ uri: megabyte, text: megabyte, title: megabyte, type: megabyte, key: megabyte, address: megabyte, name: megabyte },
        ...{ latitude: 0, longitude: 0, itemType: MIME.text, items: [megabyte, megabyte] },
      },
    ],
    [
      '200k items and options',
      {
        itemType: MIME.text,
        items: Array.from({ length: 200_000 }, (_, i) => `item ${i}`),
        options: Array.from({ length: 200_000 }, (_, i) => ({ text: `o${i}`, label: { type: MIME.text, value: `o${i}` } })),
      },
    ],
    ['NaN coordinates', { latitude: Number.NaN, longitude: 0 }],
    ['huge size', { uri: 'http://x', size: 1e300 }],
    ['lone surrogate emoji', { emoji: { values: [0xd800] } }],
  ];
  const types = [...Object.values(MIME), 'application/vnd.lime.invoice+json', 'x/unknown', '', 'text/plain;;;'];

  it.each(weird)('%s, as every type', (_name, value) => {
    for (const type of types) {
      let result: LimeInbound | undefined;
      expect(() => {
        result = limeToContent(type, value);
      }, type).not.toThrow();
      if (result?.kind === 'content') {
        expect(canonical.Check(result.content), `${type}: ${JSON.stringify([...canonical.Errors(result.content)].slice(0, 2))}`).toBe(true);
      }
      if (result?.kind === 'invalid') expect(result.error.length, type).toBeLessThanOrEqual(300);
      expect(() => readableText(type, value)).not.toThrow();
    }
  });

  it('survives a type that is not a string', () => {
    expect(limeToContent(undefined as unknown as string, 'x')).toStrictEqual({
      kind: 'content',
      content: { type: 'unsupported', mimeType: '', text: 'x' },
    });
  });

  it('a hostile value still becomes unsupported', () => {
    expect(limeToContent(MIME.mediaLink, hostile)).toStrictEqual({
      kind: 'content',
      content: { type: 'unsupported', mimeType: MIME.mediaLink, text: '(unreadable content)' },
    });
  });

  it('unwraps 5 nested containers but not 6', () => {
    expect(toContent(MIME.container, deepContainers(4, { type: MIME.text, value: 'hi' }))).toStrictEqual({ type: 'text', text: 'hi' });
    expect(toContent(MIME.container, deepContainers(5, { type: MIME.text, value: 'hi' }))).toStrictEqual({
      type: 'unsupported',
      mimeType: MIME.text,
      text: '(content nested too deeply)',
    });
  });

  it('renders deep and cyclic unknown values as bounded JSON, not as unreadable', () => {
    const deep = toContent('x/unknown', deepArray(100_000)).text;
    expect(deep.startsWith('[[[[[[[[')).toBe(true);
    expect(deep).toContain('…');
    expect(deep.length).toBeLessThanOrEqual(1000);
    expect(toContent('x/unknown', cyclic).text).toBe('{"type":"text/plain","value":…,"items":[…]}');
  });

  it('cuts a 1 MB text to 65,536 characters ending in "…"', () => {
    const text = toContent(MIME.text, megabyte).text;
    expect(text.length).toBe(65_536);
    expect(text).toBe(`${'x'.repeat(65_535)}…`);
  });

  it('never cuts an emoji in half', () => {
    const text = toContent(MIME.text, '😀'.repeat(40_000)).text;
    expect(text.length).toBeLessThanOrEqual(65_536);
    expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(text)).toBe(false);
    expect(text.endsWith('😀…')).toBe(true);
  });

  it('a select with more than 100 options keeps 100 in options and lists them all in text', () => {
    const select = { text: 'Pick', options: Array.from({ length: 150 }, (_, i) => ({ text: `o${i + 1}` })) };
    const choices = toContent(MIME.select, select);
    if (choices.type !== 'choices') throw new Error(choices.type);
    expect(choices.options).toHaveLength(100);
    expect(choices.text.endsWith('\n150. o150')).toBe(true);
  });
});

describe('contentToLime (agent → customer) and back', () => {
  const roundTrip = (content: ContentT): ContentT => {
    const lime = contentToLime(content);
    return toContent(lime.type, lime.content);
  };

  it('text → text/plain', () => {
    const content: ContentT = { type: 'text', text: 'Olá! Como posso ajudar?' };
    expect(contentToLime(content)).toStrictEqual({ type: MIME.text, content: 'Olá! Como posso ajudar?' });
    expect(roundTrip(content)).toStrictEqual(content);
  });

  it('media → media-link, and back to the same media', () => {
    const content: ContentT = {
      type: 'media',
      text: '📎 boleto.pdf (application/pdf) https://files.example/boleto.pdf\nSegue o boleto',
      url: 'https://files.example/boleto.pdf',
      mimeType: 'application/pdf',
      name: 'boleto.pdf',
      size: 5540,
      caption: 'Segue o boleto',
    };
    expect(contentToLime(content)).toStrictEqual({
      type: MIME.mediaLink,
      content: { type: 'application/pdf', uri: 'https://files.example/boleto.pdf', title: 'boleto.pdf', text: 'Segue o boleto', size: 5540 },
    });
    expect(roundTrip(content)).toStrictEqual(content);
  });

  it('media without optional fields sends no empty keys', () => {
    const content: ContentT = { type: 'media', text: '', url: 'https://files.example/a.png', mimeType: 'image/png' };
    expect(contentToLime(content)).toStrictEqual({ type: MIME.mediaLink, content: { type: 'image/png', uri: 'https://files.example/a.png' } });
  });

  it('location → location with the name as text, and back', () => {
    const content: ContentT = {
      type: 'location',
      text: "📍 Take's place (-19.918899, -43.959275)\nhttps://maps.google.com/?q=-19.918899,-43.959275",
      latitude: -19.918899,
      longitude: -43.959275,
      name: "Take's place",
    };
    expect(contentToLime(content)).toStrictEqual({
      type: MIME.location,
      content: { latitude: -19.918899, longitude: -43.959275, text: "Take's place" },
    });
    expect(roundTrip(content)).toStrictEqual(content);
  });

  it('location without a name uses the address', () => {
    const content: ContentT = { type: 'location', text: 'x', latitude: 1, longitude: 2, address: 'Rua A, 10' };
    expect(contentToLime(content)).toStrictEqual({ type: MIME.location, content: { latitude: 1, longitude: 2, text: 'Rua A, 10' } });
  });

  it('choices → select quick replies (values as text/plain), and back', () => {
    const content: ContentT = {
      type: 'choices',
      text: 'Posso ajudar em algo mais?',
      options: [{ label: 'Sim', value: 'yes' }, { label: 'Não' }],
    };
    expect(contentToLime(content)).toStrictEqual({
      type: MIME.select,
      content: {
        scope: 'immediate',
        text: 'Posso ajudar em algo mais?',
        options: [
          { order: 1, text: 'Sim', type: 'text/plain', value: 'yes' },
          { order: 2, text: 'Não' },
        ],
      },
    });
    expect(roundTrip(content)).toStrictEqual({
      type: 'choices',
      text: 'Posso ajudar em algo mais?\n1. Sim\n2. Não',
      prompt: 'Posso ajudar em algo mais?',
      options: content.options,
    });
  });

  it('choices in the event form (prompt set) send the prompt, not the rendered list', () => {
    const event = toContent(MIME.select, QUICK_REPLY);
    expect(contentToLime(event)).toMatchObject({ content: { text: 'Choose an option' } });
    expect(roundTrip(event)).toStrictEqual(event);
  });

  it('contact → text/plain with its readable text', () => {
    const content: ContentT = { type: 'contact', text: '👤 Ana\n📞 +55 11 4000-0000', name: 'Ana', phone: '+55 11 4000-0000' };
    expect(contentToLime(content)).toStrictEqual({ type: MIME.text, content: '👤 Ana\n📞 +55 11 4000-0000' });
    expect(contentToLime({ ...content, text: '' })).toStrictEqual({ type: MIME.text, content: '👤 Ana\n📞 +55 11 4000-0000' });
  });

  it('reply → text/plain with its text', () => {
    const content: ContentT = { type: 'reply', text: '> Qual plano?\nO Gold', reply: 'O Gold', inReplyTo: { text: 'Qual plano?' } };
    expect(contentToLime(content)).toStrictEqual({ type: MIME.text, content: '> Qual plano?\nO Gold' });
  });

  it('unsupported → text/plain with its text', () => {
    expect(contentToLime({ type: 'unsupported', mimeType: 'x/y', text: '(sticker)' })).toStrictEqual({ type: MIME.text, content: '(sticker)' });
  });

  it.each([
    ['typing', 'composing'],
    ['paused', 'paused'],
  ] as const)('chat state %s → chatstate %s, and back', (state, lime) => {
    const doc = chatStateToLime(state);
    expect(doc).toStrictEqual({ type: MIME.chatstate, content: { state: lime } });
    expect(limeToContent(doc.type, doc.content)).toStrictEqual({ kind: 'chatstate', state });
  });
});

describe('readableText', () => {
  it('is the text of the converted content', () => {
    expect(readableText(MIME.location, LOCATION)).toBe(toContent(MIME.location, LOCATION).text);
  });
  it('describes a chat state', () => {
    expect(readableText(MIME.chatstate, CHATSTATE)).toBe('(typing…)');
    expect(readableText(MIME.chatstate, { state: 'gone' })).toBe('(stopped typing)');
  });
  it('shows the error of an invalid content in parentheses', () => {
    expect(readableText(MIME.text, 42)).toBe('(text/plain content needs to be a string)');
  });
});
