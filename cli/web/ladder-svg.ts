/**
 * The ladder of cli/ladder.ts (columns, and rows that are rungs or notes) drawn as SVG in the
 * web demo's page, one row at a time as the signaling happens. Built with DOM calls and
 * `textContent`: labels name what remote catalogues sent (stub names, versions), never markup.
 */
import type { Row } from '../ladder.js';

const NS = 'http://www.w3.org/2000/svg';
const COLUMN = 190;
const ROW = 26;
const HEAD = 34;

export class SvgLadder {
  readonly #svg: SVGSVGElement;
  readonly #lifelines: SVGLineElement[] = [];
  #rows = 0;

  constructor(svg: SVGSVGElement, columns: readonly string[]) {
    this.#svg = svg;
    const width = columns.length * COLUMN;
    svg.setAttribute('width', String(width));
    svg.setAttribute('viewBox', `0 0 ${width} ${HEAD}`);
    svg.setAttribute('height', String(HEAD));
    const marker = this.#el('marker', {
      id: 'arrow',
      viewBox: '0 0 10 10',
      refX: '10',
      refY: '5',
      markerWidth: '7',
      markerHeight: '7',
      orient: 'auto-start-reverse',
    });
    marker.append(this.#el('path', { d: 'M0,0 L10,5 L0,10 z', fill: 'currentColor' }));
    const defs = this.#el('defs', {});
    defs.append(marker);
    svg.append(defs);
    columns.forEach((name, i) => {
      const title = this.#el('text', {
        x: String(center(i)),
        y: '16',
        'text-anchor': 'middle',
        class: 'head',
      });
      title.textContent = name;
      const line = this.#el('line', {
        x1: String(center(i)),
        x2: String(center(i)),
        y1: '24',
        y2: '24',
        class: 'lifeline',
      });
      this.#lifelines.push(line);
      svg.append(title, line);
    });
  }

  /** Draws one more row below the others. */
  add(row: Row): void {
    const y = HEAD + this.#rows * ROW + ROW - 6;
    this.#rows++;
    const height = HEAD + this.#rows * ROW + 6;
    this.#svg.setAttribute('height', String(height));
    this.#svg.setAttribute('viewBox', `0 0 ${this.#svg.getAttribute('width')} ${height}`);
    for (const line of this.#lifelines) line.setAttribute('y2', String(height));
    const g = this.#el('g', { class: 'note' in row ? 'note' : 'rung' });
    if ('note' in row) {
      const text = this.#el('text', { x: String(center(0) + 8), y: String(y) });
      text.textContent = row.note;
      g.append(text);
    } else {
      const [from, to] = [center(row.from), center(row.to)];
      g.append(
        this.#el('line', {
          x1: String(from),
          x2: String(to),
          y1: String(y),
          y2: String(y),
          'marker-end': 'url(#arrow)',
        }),
      );
      const label = this.#el('text', {
        x: String((from + to) / 2),
        y: String(y - 5),
        'text-anchor': 'middle',
      });
      label.textContent = row.label;
      g.append(label);
    }
    this.#svg.append(g);
  }

  #el<K extends keyof SVGElementTagNameMap>(
    name: K,
    attributes: Record<string, string>,
  ): SVGElementTagNameMap[K] {
    const el = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attributes)) el.setAttribute(k, v);
    return el;
  }
}

const center = (i: number) => i * COLUMN + COLUMN / 2;
