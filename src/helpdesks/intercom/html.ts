/**
 * Intercom admin bodies are HTML (research zendesk-intercom.md §B.3); customers on WhatsApp and the
 * like see plain text. html-to-text keeps links (as "text [url]") and line breaks, and decodes
 * entities, which a regex would get wrong.
 */
import { convert } from 'html-to-text';

const OPTIONS = {
  wordwrap: false as const,
  selectors: [
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true, linkBrackets: ['(', ')'] as [string, string] } },
    { selector: 'img', format: 'skip' },
    { selector: 'p', options: { leadingLineBreaks: 1, trailingLineBreaks: 1 } },
  ],
};

export function htmlToText(html: string | null | undefined): string {
  if (!html) return '';
  return convert(html, OPTIONS).replace(/\n{3,}/g, '\n\n').trim();
}
