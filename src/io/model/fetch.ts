/** Downloads with byte progress and an optional cache (Cache Storage in browsers and workers). */
import { NetworkError } from '../../engine/errors';
import { checkLimit, LIMITS } from '../limits';

/** null = the server said 404 (cached too, so probing for optional files costs nothing on a reload). */
export interface FileCache {
  match(url: string): Promise<Uint8Array | null | undefined>;
  put(url: string, bytes: Uint8Array | null): Promise<void>;
}

export interface DownloadProgress {
  file: string;
  loaded: number;
  /** null when the server sends no Content-Length. */
  total: number | null;
  fromCache: boolean;
}

export type FetchLike = (url: string, init?: { signal?: AbortSignal }) => Promise<Response>;

export class HttpError extends NetworkError {
  constructor(
    readonly url: string,
    readonly status: number,
    /** The Hub's X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo), when it sends one. */
    readonly errorCode: string | null = null,
  ) {
    super(`HTTP ${status} for ${url}`, httpHint(status));
    this.name = 'HttpError';
  }
}

function httpHint(status: number): string {
  if (status === 401 || status === 403) return 'The repo is gated or private: pick a public model, or download the files and drop them here.';
  if (status === 404) return 'Check the repo id and revision (e.g. google/bert_uncased_L-4_H-256_A-4, main).';
  if (status === 429 || status >= 500) return 'The Hub is busy or down: wait a minute and try again.';
  return 'Try again; if it keeps failing, download the files and drop them here.';
}

const CACHE_NAME = 'aflora-models-v1';
const MISSING_HEADER = 'x-aflora-missing';

/** Cache Storage when the environment has it (browsers, workers on https/localhost); null otherwise (Node). */
export async function defaultCache(): Promise<FileCache | null> {
  if (typeof caches === 'undefined') return null;
  try {
    const cache = await caches.open(CACHE_NAME);
    return {
      async match(url) {
        const hit = await cache.match(url);
        if (!hit) return undefined;
        return hit.headers.get(MISSING_HEADER) ? null : new Uint8Array(await hit.arrayBuffer());
      },
      async put(url, bytes) {
        const response = bytes ? new Response(bytes as Uint8Array<ArrayBuffer>) : new Response('', { headers: { [MISSING_HEADER]: '1' } });
        await cache.put(url, response);
      },
    };
  } catch {
    // Opaque origins and some private modes refuse Cache Storage: load without caching.
    return null;
  }
}

/** Deletes every cached model file; resolves how many were cached (0 where there is no Cache Storage). */
export async function clearModelCache(): Promise<number> {
  if (typeof caches === 'undefined' || !(await caches.has(CACHE_NAME))) return 0;
  const count = (await (await caches.open(CACHE_NAME)).keys()).length;
  await caches.delete(CACHE_NAME);
  return count;
}

export interface DownloadOptions {
  fetch?: FetchLike;
  cache?: FileCache | null;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
}

/** GET a file (redirects followed); throws HttpError on a non-2xx status. Cached on success. */
export async function download(url: string, file: string, options: DownloadOptions = {}): Promise<Uint8Array> {
  const cached = options.cache ? await options.cache.match(url) : undefined;
  if (cached === null) throw new HttpError(url, 404);
  if (cached) {
    options.onProgress?.({ file, loaded: cached.byteLength, total: cached.byteLength, fromCache: true });
    return cached;
  }
  const doFetch: FetchLike = options.fetch ?? ((u, init) => fetch(u, init));
  const response = await doFetch(url, { signal: options.signal });
  if (!response.ok) {
    await response.body?.cancel();
    const errorCode = response.headers.get('x-error-code');
    // Only a missing file is cached as missing; a missing repo or revision may exist on the next try.
    if (response.status === 404 && (errorCode === null || errorCode === 'EntryNotFound')) await putQuietly(options.cache, url, null);
    throw new HttpError(url, response.status, errorCode);
  }
  const header = response.headers.get('content-length');
  const total = header !== null && /^\d+$/.test(header) ? Number(header) : null;
  if (total !== null && total > LIMITS.downloadBytes.value) {
    await response.body?.cancel();
    checkLimit('downloadBytes', total, file);
  }
  options.onProgress?.({ file, loaded: 0, total, fromCache: false });
  let bytes: Uint8Array;
  if (!response.body) {
    bytes = new Uint8Array(await response.arrayBuffer());
  } else {
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let loaded = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.byteLength;
      // Without (or despite) a Content-Length: stop reading at the limit rather than fill the memory.
      if (loaded > LIMITS.downloadBytes.value) {
        await reader.cancel();
        checkLimit('downloadBytes', loaded, file);
      }
      options.onProgress?.({ file, loaded, total, fromCache: false });
    }
    bytes = new Uint8Array(loaded);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.byteLength;
    }
  }
  if (total !== null && bytes.byteLength !== total) {
    throw new NetworkError(`${file}: the download ended after ${bytes.byteLength} of ${total} bytes.`, 'The connection dropped: try again.');
  }
  await putQuietly(options.cache, url, bytes);
  return bytes;
}

async function putQuietly(cache: FileCache | null | undefined, url: string, bytes: Uint8Array | null): Promise<void> {
  if (!cache) return;
  try {
    await cache.put(url, bytes);
  } catch {
    // Quota exceeded: the model still loads, it just is not cached.
  }
}
