/**
 * A fast 64-bit content hash (two independent 32-bit FNV-1a streams, 16 hex digits) for fingerprints that decide
 * whether kept state fits what is loaded (a model's weights, a dataset's rows). Not cryptographic: it guards
 * against mix-ups, not against forgery. Our own because Web Crypto's digests are async-only and copy the input.
 */
export class ContentHash {
  private a = 0x811c9dc5;
  private b = 0x01000193 ^ 0x5bd1e995;
  private readonly encoder = new TextEncoder();

  bytes(bytes: Uint8Array): this {
    this.a = fnv1a(this.a, bytes);
    this.b = fnv1a(this.b, bytes);
    return this;
  }

  text(text: string): this {
    return this.bytes(this.encoder.encode(text));
  }

  hex(): string {
    return this.a.toString(16).padStart(8, '0') + this.b.toString(16).padStart(8, '0');
  }
}

/** FNV-1a, 32 bit, over bytes. */
function fnv1a(hash: number, bytes: Uint8Array): number {
  let h = hash;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
