/**
 * Sunshine Conversations message contents as canonical content (research zendesk-intercom.md
 * §A.1): what an agent writes in Agent Workspace, for the customer.
 */
import type { Content } from '../../core/content.js';

export type Json = Record<string, any>;

/** A SunCo message content from the agent, as canonical content. */
export function sunshineToContent(c: Json): Content {
  const text = typeof c['text'] === 'string' ? c['text'] : '';
  switch (c['type']) {
    case 'text': {
      const replies = (Array.isArray(c['actions']) ? c['actions'] : []).filter((a: Json) => a?.['type'] === 'reply' && typeof a['text'] === 'string');
      if (replies.length) {
        const options = replies.map((a: Json) => ({ label: String(a['text']), ...(typeof a['payload'] === 'string' ? { value: a['payload'] } : {}) }));
        return { type: 'choices', text: text || 'Choose an option', options };
      }
      const links = (Array.isArray(c['actions']) ? c['actions'] : []).filter((a: Json) => a?.['type'] === 'link' && typeof a['uri'] === 'string');
      return { type: 'text', text: [text, ...links.map((a: Json) => `${a['text'] ?? ''} ${a['uri']}`.trim())].filter(Boolean).join('\n') };
    }
    case 'image':
    case 'file': {
      const url = String(c['mediaUrl'] ?? '');
      const mimeType = typeof c['mediaType'] === 'string' ? c['mediaType'] : c['type'] === 'image' ? 'image/jpeg' : 'application/octet-stream';
      const name = typeof c['altText'] === 'string' && c['altText'] ? c['altText'] : undefined;
      return {
        type: 'media',
        url,
        mimeType,
        ...(name ? { name } : {}),
        ...(typeof c['mediaSize'] === 'number' ? { size: c['mediaSize'] } : {}),
        ...(text ? { caption: text } : {}),
        text: `📎 ${name ? `${name} ` : ''}(${mimeType}) ${url}${text ? `\n${text}` : ''}`,
      };
    }
    case 'location': {
      const co = (c['coordinates'] ?? {}) as Json;
      const loc = (c['location'] ?? {}) as Json;
      const latitude = Number(co['lat']);
      const longitude = Number(co['long']);
      const name = typeof loc['name'] === 'string' ? loc['name'] : undefined;
      const address = typeof loc['address'] === 'string' ? loc['address'] : undefined;
      return {
        type: 'location',
        latitude,
        longitude,
        ...(name ? { name } : {}),
        ...(address ? { address } : {}),
        text: `📍 ${name ?? 'Location'} (${latitude}, ${longitude})\nhttps://maps.google.com/?q=${latitude},${longitude}`,
      };
    }
    default: {
      // carousel, list, form…: what the customer can read of them.
      const parts: string[] = [];
      if (text) parts.push(text);
      for (const item of Array.isArray(c['items']) ? c['items'] : []) {
        const title = [item?.['title'], item?.['description']].filter(Boolean).join(' — ');
        const links = (Array.isArray(item?.['actions']) ? item['actions'] : []).map((a: Json) => a?.['uri']).filter(Boolean);
        parts.push([title, ...links].filter(Boolean).join('\n'));
      }
      return { type: 'unsupported', mimeType: `sunshine/${String(c['type'])}`, text: parts.filter(Boolean).join('\n\n') || `(a ${String(c['type'])} message)` };
    }
  }
}
