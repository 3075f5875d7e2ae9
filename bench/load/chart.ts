// A two-panel line chart as SVG text, no dependency: what the autoscale benchmark draws.

export interface Line {
  name: string;
  points: Array<[number, number]>;
}

export interface ChartSpec {
  title: string;
  /** An x range to shade (the load step). */
  shade?: [number, number];
  top: Panel;
  bottom: Panel;
}

export interface Panel {
  label: string;
  lines: Line[];
  /** Whole-number ticks (counts of things). */
  integer?: boolean;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const WIDTH = 960;
const PANEL = 200;
const LEFT = 60;
const RIGHT = 170;

export function drawChart(spec: ChartSpec): string {
  const all = [...spec.top.lines, ...spec.bottom.lines].flatMap((line) => line.points);
  const maxX = Math.max(1, ...all.map(([x]) => x));
  const plotWidth = WIDTH - LEFT - RIGHT;
  const x = (value: number) => LEFT + (value / maxX) * plotWidth;
  const parts: string[] = [];
  parts.push(`<text x="${LEFT}" y="22" font-size="14" font-weight="bold">${escape(spec.title)}</text>`);
  let top = 40;
  for (const panel of [spec.top, spec.bottom]) {
    const finite = panel.lines.flatMap((line) => line.points.map(([, y]) => y)).filter(Number.isFinite);
    const highest = Math.max(1, ...finite);
    const maxY = panel.integer ? Math.ceil((highest + 1) / 4) * 4 : niceMax(highest);
    const y = (value: number) => top + PANEL - (value / maxY) * PANEL;
    if (spec.shade) {
      const [from, to] = spec.shade;
      parts.push(`<rect x="${x(from)}" y="${top}" width="${x(to) - x(from)}" height="${PANEL}" fill="#f3e3c3"/>`);
    }
    parts.push(`<rect x="${LEFT}" y="${top}" width="${plotWidth}" height="${PANEL}" fill="none" stroke="#999"/>`);
    for (let tick = 0; tick <= 4; tick++) {
      const value = (maxY * tick) / 4;
      parts.push(`<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${y(value)}" y2="${y(value)}" stroke="#eee"/>`);
      parts.push(`<text x="${LEFT - 6}" y="${y(value) + 4}" font-size="11" text-anchor="end">${round(value)}</text>`);
    }
    parts.push(
      `<text x="14" y="${top + PANEL / 2}" font-size="12" transform="rotate(-90 14 ${top + PANEL / 2})" text-anchor="middle">${escape(panel.label)}</text>`,
    );
    panel.lines.forEach((line, index) => {
      const color = COLORS[index % COLORS.length];
      // Earlier lines are drawn wider, so lines on the same values still show as stripes.
      const width = Math.max(1.5, 2 * (panel.lines.length - index));
      const path = line.points
        .filter(([, value]) => Number.isFinite(value))
        .map(([px, py], at) => `${at === 0 ? 'M' : 'L'}${x(px).toFixed(1)},${y(py).toFixed(1)}`)
        .join(' ');
      parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="${width}" stroke-linejoin="round"/>`);
      parts.push(
        `<rect x="${LEFT + plotWidth + 12}" y="${top + 8 + index * 18}" width="12" height="3" fill="${color}"/>`,
      );
      parts.push(
        `<text x="${LEFT + plotWidth + 30}" y="${top + 13 + index * 18}" font-size="12">${escape(line.name)}</text>`,
      );
    });
    top += PANEL + 40;
  }
  for (let tick = 0; tick <= 10; tick++) {
    const value = (maxX * tick) / 10;
    parts.push(`<text x="${x(value)}" y="${top - 24}" font-size="11" text-anchor="middle">${round(value)} s</text>`);
  }
  const height = top;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}

function niceMax(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function round(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
