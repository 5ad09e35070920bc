/**
 * Intercom admin bodies are HTML (research zendesk-intercom.md §B.3, §D.8); customers on WhatsApp
 * and the like see plain text. html-to-text keeps links (as "text (url)", or the url alone when
 * the text is the url), line breaks and paragraphs, lists, and decodes entities, which a regex
 * would get wrong. Images inside the body are not text: `htmlImages` hands them over as media.
 */
import { convert, type SelectorDefinition } from 'html-to-text';

const HEADINGS: SelectorDefinition[] = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({
  selector,
  // The agent's words as typed: html-to-text shouts headings by default.
  options: { uppercase: false, leadingLineBreaks: 2, trailingLineBreaks: 1 },
}));

const OPTIONS = {
  wordwrap: false as const,
  selectors: [
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true, linkBrackets: ['(', ')'] as [string, string] } },
    { selector: 'img', format: 'skip' },
    // The Inbox writes one `<p class="no-margin">` per paragraph and `<br>` for a line break
    // (simulators/intercom fixtures.inboxHtml): a paragraph is a blank line, as the agent typed it.
    { selector: 'p', options: { leadingLineBreaks: 2, trailingLineBreaks: 2 } },
    ...HEADINGS,
  ],
};

/** The readable text of an Intercom HTML body ('' for none). */
export function htmlToText(html: string | null | undefined): string {
  if (!html) return '';
  return convert(html, OPTIONS)
    .replace(/\u00a0/g, ' ') // &nbsp; is how editors keep spaces; to a phone it is a space
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** The absolute http(s) URLs of the images inside an HTML body, in order, without repeats. */
export function htmlImages(html: string | null | undefined): string[] {
  if (!html) return [];
  const out: string[] = [];
  for (const m of html.matchAll(/<img\b[^>]*?\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)) {
    const url = decodeEntities((m[1] ?? m[2] ?? m[3] ?? '').trim());
    if (/^https?:\/\//i.test(url) && !out.includes(url)) out.push(url);
  }
  return out;
}

function decodeEntities(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
