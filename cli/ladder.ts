/**
 * A ladder diagram in text: one column per party, one row per message or note.
 *
 * ```
 *  alice@a.example      b.example node       bob@b.example
 *        |---- chat ------->|------------------->|
 * ```
 */
export interface Rung {
  readonly from: number;
  readonly to: number;
  readonly label: string;
}

export type Row = Rung | { readonly note: string };

const WIDTH = 28;

export function renderLadder(columns: readonly string[], rows: readonly Row[]): string {
  const center = (i: number) => i * WIDTH + Math.floor(WIDTH / 2);
  const total = columns.length * WIDTH;
  const header = columns
    .map((c) =>
      c
        .slice(0, WIDTH - 2)
        .padStart(Math.floor((WIDTH + Math.min(c.length, WIDTH - 2)) / 2))
        .padEnd(WIDTH),
    )
    .join('');
  const lines = [header.trimEnd()];
  const blank = () => {
    const chars = Array<string>(total).fill(' ');
    for (let i = 0; i < columns.length; i++) chars[center(i)] = '|';
    return chars;
  };
  for (const row of rows) {
    const chars = blank();
    if ('note' in row) {
      lines.push(`${chars.join('').slice(0, center(0) + 2)} ${row.note}`);
      continue;
    }
    const [a, b] = [center(row.from), center(row.to)];
    const [lo, hi] = a < b ? [a, b] : [b, a];
    for (let x = lo + 1; x < hi; x++) chars[x] = '-';
    if (a < b) chars[hi - 1] = '>';
    else chars[lo + 1] = '<';
    const label = ` ${row.label} `.slice(0, Math.max(0, hi - lo - 5));
    const at = lo + 3;
    for (let k = 0; k < label.length; k++) chars[at + k] = label[k]!;
    lines.push(chars.join('').trimEnd());
  }
  return lines.join('\n');
}
