/**
 * "Clear downloaded models": the files download() put in Cache Storage are gone afterwards, the next load fetches
 * them again, and the count it reports is what was cached. Cache Storage is an in-memory stand-in here (Node has none).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clearModelCache, defaultCache, download } from '../../src/io/model/fetch';

/** The part of the CacheStorage API fetch.ts uses, kept in memory. */
class MemoryCaches {
  readonly stores = new Map<string, Map<string, Response>>();
  async has(name: string) {
    return this.stores.has(name);
  }
  async open(name: string) {
    const store = this.stores.get(name) ?? new Map<string, Response>();
    this.stores.set(name, store);
    return {
      match: async (url: string) => store.get(url)?.clone(),
      put: async (url: string, response: Response) => void store.set(url, response),
      keys: async () => [...store.keys()].map((url) => new Request(url)),
    };
  }
  async delete(name: string) {
    return this.stores.delete(name);
  }
}

const globals = globalThis as { caches?: unknown };
let memory: MemoryCaches;
beforeEach(() => {
  memory = new MemoryCaches();
  globals.caches = memory;
});
afterEach(() => {
  delete globals.caches;
});

describe('clearModelCache', () => {
  it('deletes every cached model file, says how many, and the next load downloads again', async () => {
    let requests = 0;
    const fetch = async () => (requests++, new Response(new Uint8Array([1, 2, 3])));
    const urls = ['https://huggingface.co/a/resolve/main/config.json', 'https://huggingface.co/a/resolve/main/model.safetensors'];
    for (const url of urls) await download(url, url.split('/').pop()!, { fetch, cache: await defaultCache() });
    await download(urls[0], 'config.json', { fetch, cache: await defaultCache() });
    expect(requests, 'the second load of config.json came from the cache').toBe(2);

    expect(await clearModelCache()).toBe(2);
    expect(memory.stores.size).toBe(0);
    await download(urls[0], 'config.json', { fetch, cache: await defaultCache() });
    expect(requests, 'after clearing, the file is fetched again').toBe(3);
    expect(await clearModelCache()).toBe(1);
    expect(await clearModelCache(), 'nothing left to clear').toBe(0);
  });

  it('reports 0 where there is no Cache Storage', async () => {
    delete globals.caches;
    expect(await clearModelCache()).toBe(0);
  });
});
