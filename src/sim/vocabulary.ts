/**
 * The fixed word list of the simulated tokenizer. Every word is one token, with and without a
 * leading space (like BPE vocabularies), so English-ish prompts tokenize at about one token per
 * word and generated text is made of the same tokens.
 */
export const WORDS: readonly string[] = [
  'the', 'of', 'and', 'to', 'a', 'in', 'is', 'it', 'you', 'that', 'he', 'was', 'for', 'on', 'are',
  'with', 'as', 'I', 'his', 'they', 'be', 'at', 'one', 'have', 'this', 'from', 'or', 'had', 'by',
  'not', 'word', 'but', 'what', 'some', 'we', 'can', 'out', 'other', 'were', 'all', 'there', 'when',
  'up', 'use', 'your', 'how', 'said', 'an', 'each', 'she', 'which', 'do', 'their', 'time', 'if',
  'will', 'way', 'about', 'many', 'then', 'them', 'write', 'would', 'like', 'so', 'these', 'her',
  'long', 'make', 'thing', 'see', 'him', 'two', 'has', 'look', 'more', 'day', 'could', 'go', 'come',
  'did', 'number', 'sound', 'no', 'most', 'people', 'my', 'over', 'know', 'water', 'than', 'call',
  'first', 'who', 'may', 'down', 'side', 'been', 'now', 'find', 'any', 'new', 'work', 'part', 'take',
  'get', 'place', 'made', 'live', 'where', 'after', 'back', 'little', 'only', 'round', 'man', 'year',
  'came', 'show', 'every', 'good', 'me', 'give', 'our', 'under', 'name', 'very', 'through', 'just',
  'form', 'sentence', 'great', 'think', 'say', 'help', 'low', 'line', 'differ', 'turn', 'cause',
  'much', 'mean', 'before', 'move', 'right', 'boy', 'old', 'too', 'same', 'tell', 'does', 'set',
  'three', 'want', 'air', 'well', 'also', 'play', 'small', 'end', 'put', 'home', 'read', 'hand',
  'port', 'large', 'spell', 'add', 'even', 'land', 'here', 'must', 'big', 'high', 'such', 'follow',
  'act', 'why', 'ask', 'men', 'change', 'went', 'light', 'kind', 'off', 'need', 'house', 'picture',
  'try', 'us', 'again', 'animal', 'point', 'mother', 'world', 'near', 'build', 'self', 'earth',
  'father', 'model', 'token', 'stream', 'answer', 'question', 'system', 'user', 'assistant',
  'request', 'response', 'server', 'cache', 'prefix', 'gateway', 'latency', 'Hello', 'Yes', 'The',
];

/** Punctuation tokens; generated text uses `,` inside and `.` at a natural stop. */
export const PUNCTUATION: readonly string[] = ['.', ',', '!', '?', ':', ';', '\n', '\n\n'];

/** Chat template markers: one special token each, as in ChatML models. */
export const SPECIAL_TOKENS: readonly string[] = ['<|im_start|>', '<|im_end|>', '<|endoftext|>'];
