// Input quoted in a message: at most a short prefix, so that a megabyte argument does not come
// back as a megabyte error (or log line).

/** How many characters of the input a message quotes. */
export const QUOTE_MAX = 80;

/** `s` as a JSON string, cut to QUOTE_MAX characters with "..." when longer. */
export function quoteShort(s: string): string {
  return JSON.stringify(s.length > QUOTE_MAX ? s.slice(0, QUOTE_MAX - 3) + '...' : s);
}
