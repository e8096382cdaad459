/** Page-side exports: freeze log and rank log (CSV/JSON), heatmap SVG/PNG, and downloading worker-made files. */
import { freezeLogToCsv, recordsToCsv, type FreezeRecord } from '../io/export/logs';
import { zipFiles } from '../io/export/zip';
import { SCORE_SERIES } from '../methods/entry';
import { rankFrames, rankGrid } from './ranks';
import { latestValues, type RunRecord } from './state';

/** One row per A/B matrix of the run's view: freeze step, steps trained, last score. */
export function freezeLogRows(run: RunRecord): FreezeRecord[] {
  const totalSteps = run.finished ? run.finished.step + 1 : (run.plan?.totalSteps ?? 0);
  const scores = latestValues(run.values, SCORE_SERIES);
  return (run.plan?.cells ?? []).flatMap(({ name, cell }) => {
    if (!cell.matrix) return [];
    const frozenAtStep = run.freezeSteps[name] ?? null;
    return [
      {
        name,
        layer: cell.layer,
        kind: cell.kind,
        matrix: cell.matrix,
        frozenAtStep,
        stepsTrained: frozenAtStep === null ? totalSteps : frozenAtStep + 1,
        lastScore: scores[name] ?? null,
      },
    ];
  });
}

export function freezeLogCsv(run: RunRecord): string {
  return freezeLogToCsv(freezeLogRows(run));
}

export function freezeLogJson(run: RunRecord): string {
  return JSON.stringify(
    {
      run: { id: run.id, label: run.label, config: run.config },
      totalSteps: run.plan?.totalSteps ?? null,
      matrices: freezeLogRows(run),
      schedule: run.schedule,
    },
    null,
    2,
  );
}

/** One row per module and allocation frame: the rank it held after that step and the importance behind it. */
export interface RankLogRow {
  step: number;
  name: string;
  layer: number;
  kind: string;
  rank: number | null;
  importance: number | null;
}

export function rankLogRows(run: RunRecord): RankLogRow[] {
  const cells = run.plan?.cells ?? [];
  const kinds = new Map(cells.map(({ name, cell }) => [name, cell.kind]));
  return rankFrames(run.values).flatMap((step) =>
    rankGrid(cells, run.values, step)
      .cells.flat()
      .flatMap((cell) => (cell ? [{ step, name: cell.name, layer: cell.layer, kind: kinds.get(cell.name)!, rank: cell.rank, importance: cell.importance }] : [])),
  );
}

const RANK_COLUMNS = ['step', 'name', 'layer', 'kind', 'rank', 'importance'] as const;

export function rankLogCsv(run: RunRecord): string {
  return recordsToCsv(rankLogRows(run).map((r) => ({ ...r })), RANK_COLUMNS);
}

export function rankLogJson(run: RunRecord): string {
  return JSON.stringify(
    {
      run: { id: run.id, label: run.label, config: run.config },
      totalSteps: run.plan?.totalSteps ?? null,
      modules: (run.plan?.cells ?? []).map(({ name, cell }) => ({ name, layer: cell.layer, kind: cell.kind })),
      frames: rankLogRows(run),
      budget: run.budget ?? [],
    },
    null,
    2,
  );
}

export function downloadBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.appendChild(link);
  link.click();
  link.remove();
  // Give the browser time to start the download before the URL goes away.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** One file downloads as itself; several go into one zip (browsers block bursts of downloads). */
export function downloadFiles(files: { name: string; bytes: Uint8Array }[], zipName: string): void {
  if (files.length === 1) {
    downloadBlob(new Blob([files[0].bytes as Uint8Array<ArrayBuffer>]), files[0].name);
    return;
  }
  const zipped = zipFiles(Object.fromEntries(files.map((f) => [f.name, f.bytes])));
  downloadBlob(new Blob([zipped as Uint8Array<ArrayBuffer>], { type: 'application/zip' }), zipName);
}

/** Presentation properties that CSS sets on the page and a standalone SVG file must carry itself. */
const INLINED_STYLE = ['fill', 'stroke', 'stroke-width', 'stroke-dasharray', 'opacity', 'fill-opacity', 'stroke-opacity', 'font-family', 'font-size', 'font-weight', 'font-variant-numeric'] as const;

/**
 * Standalone SVG text of an on-page SVG that looks like the page: every element gets its computed
 * presentation style inlined (CSS classes and variables do not travel with the file), the root its
 * font and background.
 */
export function serializeSvg(svg: SVGSVGElement): string {
  const clone = svg.cloneNode(true) as SVGSVGElement;
  const originals = [svg, ...svg.querySelectorAll('*')];
  const copies = [clone, ...clone.querySelectorAll('*')];
  originals.forEach((original, i) => {
    const computed = getComputedStyle(original);
    const copy = copies[i] as SVGElement;
    const inline = INLINED_STYLE.map((name) => [name, computed.getPropertyValue(name)] as const).filter(([, value]) => value !== '');
    copy.setAttribute('style', inline.map(([name, value]) => `${name}:${value}`).join(';'));
    copy.removeAttribute('class');
  });
  const page = getComputedStyle(svg);
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  clone.style.background = page.getPropertyValue('--surface').trim() || '#ffffff';
  return new XMLSerializer().serializeToString(clone);
}

export async function svgToPng(svgText: string, width: number, height: number, scale = 2): Promise<Blob> {
  const image = new Image();
  image.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svgText);
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = width * scale;
  canvas.height = height * scale;
  const context = canvas.getContext('2d')!;
  context.scale(scale, scale);
  context.drawImage(image, 0, 0, width, height);
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG encoding failed'))), 'image/png'),
  );
}
