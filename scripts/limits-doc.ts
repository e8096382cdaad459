/** Writes src/io/limits.ts's table into docs/security.md between its markers (tests/io/limits.test.ts checks it). */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { limitsTable } from '../src/io/limits';

export const SECURITY_DOC = fileURLToPath(new URL('../docs/security.md', import.meta.url));
export const BEGIN = '<!-- limits:begin (generated from src/io/limits.ts by npm run limits:doc) -->';
export const END = '<!-- limits:end -->';

export function withTable(doc: string): string {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/security.md has no ${BEGIN} ... ${END} markers`);
  return `${doc.slice(0, start + BEGIN.length)}\n${limitsTable()}\n${doc.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) writeFileSync(SECURITY_DOC, withTable(readFileSync(SECURITY_DOC, 'utf8')));
