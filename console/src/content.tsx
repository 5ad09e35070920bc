/** A canonical content (src/core/content.ts) as a person reads it in a chat bubble. */
import type { Content } from './api.js';

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Only http(s) links become clickable: a content's URL came from outside. */
function safeUrl(v: unknown): string | undefined {
  const s = str(v);
  if (!s) return undefined;
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}

export function ContentView({ content }: { content: Content }) {
  const text = str(content.text);
  switch (content.type) {
    case 'text':
      return <p class="text">{text}</p>;
    case 'media': {
      const url = safeUrl(content['url']);
      const mime = str(content['mimeType']) ?? 'file';
      const name = str(content['name']) ?? mime;
      const caption = str(content['caption']);
      return (
        <figure class="media">
          {url && mime.startsWith('image/') ? (
            <a href={url} target="_blank" rel="noopener noreferrer">
              <img src={url} alt={caption ?? name} loading="lazy" />
            </a>
          ) : null}
          <figcaption>
            <span class="tag">{mime}</span>{' '}
            {url ? (
              <a href={url} target="_blank" rel="noopener noreferrer">
                {name}
              </a>
            ) : (
              name
            )}
            {typeof content['size'] === 'number' ? ` · ${Math.ceil(content['size'] / 1024)} KiB` : ''}
            {caption ? <span class="caption">{caption}</span> : null}
          </figcaption>
        </figure>
      );
    }
    case 'location': {
      const lat = Number(content['latitude']);
      const lng = Number(content['longitude']);
      const map = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lng}#map=16/${lat}/${lng}`;
      return (
        <div class="location">
          <span class="tag">location</span> <strong>{str(content['name']) ?? 'Shared location'}</strong>
          {str(content['address']) ? <span class="caption">{str(content['address'])}</span> : null}
          <a href={map} target="_blank" rel="noopener noreferrer">
            {lat.toFixed(5)}, {lng.toFixed(5)} (map)
          </a>
        </div>
      );
    }
    case 'contact':
      return (
        <div class="contact">
          <span class="tag">contact</span> <strong>{str(content['name'])}</strong>
          {str(content['phone']) ? <span class="caption">{str(content['phone'])}</span> : null}
          {str(content['email']) ? <span class="caption">{str(content['email'])}</span> : null}
        </div>
      );
    case 'choices': {
      const options = Array.isArray(content['options']) ? (content['options'] as Array<{ label?: string; value?: string }>) : [];
      return (
        <div class="choices">
          <p class="text">{str(content['prompt']) ?? text}</p>
          <ol class="options" aria-label="Menu options">
            {options.map((o, i) => (
              <li key={i}>
                {o.label}
                {o.value && o.value !== o.label ? <span class="caption"> → {o.value}</span> : null}
              </li>
            ))}
          </ol>
        </div>
      );
    }
    case 'reply': {
      const quoted = (content['inReplyTo'] as { text?: string } | undefined)?.text;
      return (
        <div class="reply">
          {quoted ? <blockquote>{quoted}</blockquote> : null}
          <p class="text">{str(content['reply']) ?? text}</p>
        </div>
      );
    }
    case 'chatstate':
      return <p class="text muted">{text ?? 'typing…'}</p>;
    default:
      return (
        <div class="unsupported">
          <span class="tag">{str(content['mimeType']) ?? content.type}</span>
          <p class="text">{text ?? JSON.stringify(content)}</p>
        </div>
      );
  }
}
