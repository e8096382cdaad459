/** Several files -> one zip for a single download (fflate, synchronous: exports are small). */
import { zipSync } from 'fflate';

export function zipFiles(files: Record<string, Uint8Array | string>): Uint8Array {
  const entries: Record<string, Uint8Array> = {};
  for (const [name, content] of Object.entries(files)) {
    entries[name] = typeof content === 'string' ? new TextEncoder().encode(content) : content;
  }
  // Level 6 deflate: float tensors shrink little, JSON/CSV a lot.
  return zipSync(entries, { level: 6 });
}
