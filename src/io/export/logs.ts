/** The freeze log as CSV (papaparse, RFC 4180 quoting), and generic records to and from CSV. */
import Papa from 'papaparse';

export type Cell = string | number | boolean | null;
export type Record_ = Record<string, Cell>;

/** Columns in first-seen order across all rows; empty cell for null/missing. */
export function recordsToCsv(rows: readonly Record_[], columns?: readonly string[]): string {
  const fields = columns ? [...columns] : [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const data = rows.map((r) => fields.map((f) => (r[f] === null || r[f] === undefined ? '' : r[f])));
  return Papa.unparse({ fields, data }, { newline: '\n' }) + '\n';
}

/** Numbers come back as numbers, empty cells as null. */
export function csvToRecords(text: string): Record_[] {
  const parsed = Papa.parse<Record<string, string>>(text.trim(), { header: true, skipEmptyLines: true });
  if (parsed.errors.length > 0) throw new Error(`CSV row ${parsed.errors[0].row}: ${parsed.errors[0].message}`);
  return parsed.data.map((row) => {
    const out: Record_ = {};
    for (const [key, value] of Object.entries(row)) {
      out[key] = value === '' ? null : value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
    }
    return out;
  });
}

export interface FreezeRecord {
  name: string;
  layer: number;
  kind: string;
  matrix: 'A' | 'B';
  /** 0-based step after which it froze; null = never. */
  frozenAtStep: number | null;
  stepsTrained: number;
  /** The matrix's last freezing score; null before the first scoring round. */
  lastScore: number | null;
}

const FREEZE_COLUMNS = ['name', 'layer', 'kind', 'matrix', 'frozen_at_step', 'steps_trained', 'last_score'] as const;

export function freezeLogToCsv(records: readonly FreezeRecord[]): string {
  return recordsToCsv(
    records.map((r) => ({
      name: r.name,
      layer: r.layer,
      kind: r.kind,
      matrix: r.matrix,
      frozen_at_step: r.frozenAtStep,
      steps_trained: r.stepsTrained,
      last_score: r.lastScore,
    })),
    FREEZE_COLUMNS,
  );
}

export function freezeLogFromCsv(text: string): FreezeRecord[] {
  return csvToRecords(text).map((r, i) => {
    if (r.matrix !== 'A' && r.matrix !== 'B') throw new Error(`freeze log row ${i + 1}: matrix must be A or B`);
    return {
      name: String(r.name),
      layer: Number(r.layer),
      kind: String(r.kind),
      matrix: r.matrix,
      frozenAtStep: r.frozen_at_step === null ? null : Number(r.frozen_at_step),
      stepsTrained: Number(r.steps_trained),
      lastScore: r.last_score === null || r.last_score === undefined ? null : Number(r.last_score),
    };
  });
}
