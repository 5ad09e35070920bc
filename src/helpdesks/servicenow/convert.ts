/**
 * VA response body items (bot-api.md "VA response body parameters"; va-api-controls.md and
 * default-rich-controls-va-cccif.md for each control's own fields) as canonical content for the
 * customer. Every output control becomes something readable; input controls become their question.
 */
import type { Content } from '../../core/content.js';
import { htmlToText } from '../intercom/html.js';

type Json = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const lines = (...xs: unknown[]) => xs.map(str).filter((x): x is string => x !== undefined).join('\n');

const IMAGE_TYPES: Record<string, string> = { png: 'image/png', gif: 'image/gif', webp: 'image/webp', jpg: 'image/jpeg', jpeg: 'image/jpeg', svg: 'image/svg+xml' };

/** OutputImage carries only a URL: the type is guessed from its extension (ServiceNow media URLs have none: JPEG). */
export function imageType(url: string): string {
  try {
    const ext = new URL(url).pathname.split('.').pop()?.toLowerCase() ?? '';
    return IMAGE_TYPES[ext] ?? 'image/jpeg';
  } catch {
    return 'image/jpeg';
  }
}

/** `data` of an OutputCard is "json representing card data … of type string" (va-api-controls.md). */
function cardText(item: Json): string {
  let data: Json = {};
  const raw = item['data'];
  if (typeof raw === 'string') {
    try {
      data = obj(JSON.parse(raw));
    } catch {
      data = {};
    }
  } else data = obj(raw);
  const fields = Array.isArray(data['fields'])
    ? (data['fields'] as unknown[]).map((f) => obj(f)).map((f) => (str(f['fieldLabel']) && f['fieldValue'] !== undefined ? `${String(f['fieldLabel'])}: ${String(f['fieldValue'])}` : undefined))
    : [];
  return lines(data['title'], data['subtitle'], data['description'], ...fields, data['url'], data['link'], data['image']) || lines(item['templateName']) || '(a card)';
}

/** One VA body item as what the customer should get; undefined for what is not for them (ActionMsg is read elsewhere). */
export function itemToContent(item: Json): Content | undefined {
  switch (String(item['uiType'] ?? '')) {
    case 'OutputText': {
      // `value` per va-api-controls.md; the attachment example of bot-api.md puts the text in `label`.
      const text = str(item['value']) ?? str(item['label']);
      return text ? { type: 'text', text } : undefined;
    }
    case 'InputText':
    case 'FileUpload':
    case 'Date':
    case 'DateTime':
    case 'Time': {
      // An input control asks the customer something: its label is the question.
      const text = str(item['label']) ?? str(item['promptMsg']);
      return text ? { type: 'text', text } : undefined;
    }
    case 'OutputHtml': {
      const text = htmlToText(typeof item['value'] === 'string' ? item['value'] : '');
      return text ? { type: 'text', text } : undefined;
    }
    case 'OutputImage': {
      const url = str(item['value']);
      if (!url) return undefined;
      const alt = str(item['altText']);
      return { type: 'media', url, mimeType: imageType(url), ...(alt ? { caption: alt } : {}), text: alt ? `${alt}\n${url}` : url };
    }
    case 'OutputLink': {
      const url = str(obj(item['value'])['action']);
      if (!url) return undefined;
      return { type: 'text', text: lines(item['header'], item['label'], url) };
    }
    case 'GroupedPartsOutputControl': {
      const values = Array.isArray(item['values']) ? (item['values'] as unknown[]).map(obj) : [];
      const text = lines(item['header'], ...values.map((v) => lines(v['label'], v['description'], v['action'])));
      return text ? { type: 'text', text } : undefined;
    }
    case 'MultiPartOutput': {
      const inner = itemToContent(obj(item['content']));
      return inner;
    }
    case 'OutputCard':
      return { type: 'text', text: cardText(item) };
    case 'OutputTable': {
      const headers = Array.isArray(item['headers']) ? (item['headers'] as unknown[]).map(String) : [];
      const rows = Array.isArray(item['data']) ? (item['data'] as unknown[]).filter(Array.isArray).map((r) => (r as unknown[]).map(String)) : [];
      const text = lines(item['label'], headers.join(' | '), ...rows.map((r) => r.join(' | ')));
      return text ? { type: 'text', text } : undefined;
    }
    case 'Picker':
    case 'Boolean':
    case 'TopicPickerControl': {
      // Options are sent `enabled: false` in bot-to-bot ("the primary bot is responsible for
      // ensuring the picker control is disabled", bot-api.md): enabled says nothing about showing them.
      const options = (Array.isArray(item['options']) ? (item['options'] as unknown[]).map(obj) : [])
        .filter((o) => str(o['label']))
        .map((o) => ({ label: String(o['label']), ...(o['value'] !== undefined && o['value'] !== null ? { value: String(o['value']) } : {}) }));
      const prompt = str(item['label']) ?? str(item['promptMsg']) ?? 'Choose an option';
      if (!options.length) return { type: 'text', text: prompt };
      return { type: 'choices', text: prompt, options: options.slice(0, 100) };
    }
    default:
      return undefined;
  }
}
