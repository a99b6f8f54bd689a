/**
 * The keys of a JSON object text's top level, in order and with repeats (JSON.parse keeps only the
 * last of a duplicated key, so it cannot tell whether a body is ambiguous). Undefined when the text
 * is not an object. Assumes well-formed JSON (the caller has parsed it).
 */
export function topLevelKeys(text: string): string[] | undefined {
  let index = skipWhitespace(text, 0);
  if (text[index] !== '{') return undefined;
  const keys: string[] = [];
  let depth = 0;
  for (; index < text.length; index += 1) {
    const char = text[index];
    if (char === '"') {
      const end = stringEnd(text, index);
      if (depth === 1 && text[skipWhitespace(text, end + 1)] === ':') keys.push(JSON.parse(text.slice(index, end + 1)) as string);
      index = end;
    } else if (char === '{' || char === '[') depth += 1;
    else if (char === '}' || char === ']') depth -= 1;
  }
  return keys;
}

function stringEnd(text: string, start: number): number {
  for (let index = start + 1; index < text.length; index += 1) {
    if (text[index] === '\\') index += 1;
    else if (text[index] === '"') return index;
  }
  return text.length;
}

function skipWhitespace(text: string, from: number): number {
  let index = from;
  while (index < text.length && (text[index] === ' ' || text[index] === '\n' || text[index] === '\r' || text[index] === '\t')) index += 1;
  return index;
}
