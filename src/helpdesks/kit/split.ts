/**
 * A customer text longer than a helpdesk accepts goes as ordered parts, never cut (issue 11): split
 * at the last line break, else the last space, before the limit; a word longer than the limit is
 * split inside it, never inside a UTF-16 surrogate pair.
 */
export function splitText(text: string, max: number): string[] {
  if (!Number.isInteger(max) || max < 2) throw new RangeError(`splitText: max must be an integer ≥ 2, got ${max}`);
  const parts: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = rest.lastIndexOf('\n', max);
    if (cut < max / 2) cut = Math.max(cut, rest.lastIndexOf(' ', max));
    if (cut <= 0) {
      cut = max;
      const code = rest.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut--; // keep the pair whole
    }
    parts.push(rest.slice(0, cut));
    // The separator we split at is not part of either piece; the text is otherwise kept as is.
    rest = /[\n ]/.test(rest[cut] ?? '') ? rest.slice(cut + 1) : rest.slice(cut);
  }
  parts.push(rest);
  return parts;
}
