// The shipped sample datasets: parse, shape, balance, split hygiene, agreement with their cards and index.json,
// and reproducibility from scripts/builtin (rebuilt into a temp folder and compared byte for byte).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Papa from 'papaparse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const DATASETS = join(ROOT, 'public', 'datasets');

interface IndexEntry {
  id: string;
  title: string;
  task: 'single' | 'pair';
  textColumns: string[];
  labelColumn: string;
  labels: string[];
  files: { train: string; validation: string; card: string };
  sizes: { train: number; validation: number };
  majorityValidationAccuracy: number;
  default?: boolean;
}

type Row = Record<string, string>;

const index: { datasets: IndexEntry[] } = JSON.parse(readFileSync(join(DATASETS, 'index.json'), 'utf8'));

function readCsv(relPath: string): { fields: string[]; rows: Row[] } {
  const parsed = Papa.parse<Row>(readFileSync(join(DATASETS, relPath), 'utf8'), {
    header: true,
    skipEmptyLines: true,
  });
  expect(parsed.errors).toEqual([]);
  return { fields: parsed.meta.fields ?? [], rows: parsed.data };
}

const rowKey = (entry: IndexEntry, row: Row) => entry.textColumns.map((c) => row[c]).join('\u0001');

/** `| split | rows | labels | file size |` rows of a card, as { split: { rows, labels: {label: n} } }. */
function cardTable(card: string): Record<string, { rows: number; labels: Record<string, number> }> {
  const out: Record<string, { rows: number; labels: Record<string, number> }> = {};
  for (const m of card.matchAll(/^\| (train|validation) \| (\d+) \| ([^|]+) \|/gm)) {
    const labels = Object.fromEntries(
      m[3].split(',').map((part) => {
        const [label, n] = part.trim().split(': ');
        return [label, Number(n)];
      }),
    );
    out[m[1]] = { rows: Number(m[2]), labels };
  }
  return out;
}

describe('public/datasets/index.json', () => {
  it('lists the three samples with spam-ham as the only default', () => {
    expect(index.datasets.map((d) => d.id).sort()).toEqual([
      'brown-genre',
      'brown-next-sentence',
      'spam-ham',
    ]);
    expect(index.datasets.filter((d) => d.default).map((d) => d.id)).toEqual(['spam-ham']);
    for (const d of index.datasets) {
      expect(d.task).toBe(d.textColumns.length === 2 ? 'pair' : 'single');
      expect(d.labelColumn).toBe('label');
      expect(new Set(d.labels).size).toBe(d.labels.length);
      for (const file of Object.values(d.files)) expect(existsSync(join(DATASETS, file)), file).toBe(true);
    }
  });
});

describe.each(index.datasets.map((d) => [d.id, d] as const))('sample dataset %s', (_id, entry) => {
  const train = readCsv(entry.files.train);
  const validation = readCsv(entry.files.validation);
  const card = readFileSync(join(DATASETS, entry.files.card), 'utf8');

  it('has exactly the text columns and the label column', () => {
    for (const split of [train, validation]) expect(split.fields).toEqual([...entry.textColumns, 'label']);
  });

  it('has non-empty texts and only the declared labels, each present in both splits', () => {
    for (const { rows } of [train, validation]) {
      for (const row of rows) {
        for (const c of entry.textColumns) expect(row[c].trim().length, c).toBeGreaterThan(10);
        expect(entry.labels).toContain(row.label);
      }
      expect(new Set(rows.map((r) => r.label))).toEqual(new Set(entry.labels));
    }
  });

  it('has no duplicate rows within a split nor between train and validation', () => {
    const trainKeys = new Set(train.rows.map((r) => rowKey(entry, r)));
    expect(trainKeys.size).toBe(train.rows.length);
    const validationKeys = validation.rows.map((r) => rowKey(entry, r));
    expect(new Set(validationKeys).size).toBe(validation.rows.length);
    expect(validationKeys.filter((k) => trainKeys.has(k))).toEqual([]);
  });

  it('matches the sizes, label counts and majority-class accuracy of its card and index entry', () => {
    const table = cardTable(card);
    for (const [split, { rows }] of [
      ['train', train],
      ['validation', validation],
    ] as const) {
      expect(rows.length).toBe(entry.sizes[split]);
      expect(table[split].rows).toBe(rows.length);
      const counted: Record<string, number> = {};
      for (const r of rows) counted[r.label] = (counted[r.label] ?? 0) + 1;
      expect(table[split].labels).toEqual(counted);
    }
    const counts = entry.labels.map((l) => validation.rows.filter((r) => r.label === l).length);
    const majority = Math.max(...counts) / validation.rows.length;
    expect(entry.majorityValidationAccuracy).toBeCloseTo(majority, 4);
    expect(card).toContain(`**${(100 * majority).toFixed(1)} %**`);
  });

  it('keeps each CSV under 500 KB and the card states source, licence and pretraining overlap', () => {
    for (const f of [entry.files.train, entry.files.validation]) {
      expect(statSync(join(DATASETS, f)).size).toBeLessThan(500 * 1024);
    }
    expect(card).toMatch(/## Source and licence[\s\S]*Licence: \S/);
    expect(card).toMatch(/## Pretraining overlap/);
  });
});

describe('sample data reproducibility and held-out hygiene', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'builtin-'));
    const run = (script: string, out: string) =>
      execFileSync(process.execPath, [join(ROOT, 'scripts', 'builtin', script), join(work, out)], {
        cwd: ROOT,
      });
    run('make-datasets.mjs', 'datasets');
    run('make-corpus.mjs', 'corpus');
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('make-datasets.mjs rebuilds the committed files byte for byte', () => {
    for (const entry of index.datasets) {
      for (const file of Object.values(entry.files)) {
        expect(readFileSync(join(work, 'datasets', file), 'utf8'), file).toBe(
          readFileSync(join(DATASETS, file), 'utf8'),
        );
      }
    }
    expect(readFileSync(join(work, 'datasets', 'index.json'), 'utf8')).toBe(
      readFileSync(join(DATASETS, 'index.json'), 'utf8'),
    );
  });

  it('keeps every validation text out of the pretraining train.txt, and Brown train sentences in it', () => {
    const corpus = readFileSync(join(work, 'corpus', 'train.txt'), 'utf8');
    const heldout = readFileSync(join(work, 'corpus', 'heldout.txt'), 'utf8');
    for (const entry of index.datasets) {
      for (const row of readCsv(entry.files.validation).rows) {
        for (const c of entry.textColumns) {
          // spam-ham texts are "subject. body"; make-corpus drops train mails containing a validation body's start.
          const bodyStart = row[c].indexOf('. ') + 2;
          const probe = entry.id === 'spam-ham' ? row[c].slice(bodyStart, bodyStart + 50) : row[c];
          if (probe.length < 30) continue;
          expect(corpus.includes(probe), `${entry.id}: ${probe}`).toBe(false);
          if (entry.id !== 'spam-ham') expect(heldout.includes(probe), `${entry.id}: ${probe}`).toBe(true);
        }
      }
    }
    const genreTrain = readCsv(index.datasets.find((d) => d.id === 'brown-genre')!.files.train).rows;
    expect(genreTrain.filter((r) => !corpus.includes(r.text))).toEqual([]);
  });
});
