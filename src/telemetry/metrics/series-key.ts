/** Separates label values in a series key; label values are bounded names that never contain it. */
const KEY_SEPARATOR = '\u0000';

/** The key of one labelled series: its label values in `names` order (the value itself for one label). */
export function seriesKey<L extends string>(names: readonly L[], labels: Readonly<Record<L, string>>): string {
  if (names.length === 1) return labels[names[0]!];
  let key = '';
  for (let i = 0; i < names.length; i++) key += (i === 0 ? '' : KEY_SEPARATOR) + labels[names[i]!];
  return key;
}
