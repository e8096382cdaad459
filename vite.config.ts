import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';
import type { Plugin } from 'vite';

/**
 * The page's Content-Security-Policy (docs/security.md): only the app's origin, plus the Hugging Face hosts a
 * model download the user asked for goes to (huggingface.co redirects LFS files to cdn-lfs*.huggingface.co /
 * *.hf.co and Xet-stored files to cas-bridge.xethub.hf.co). The dev server adds what Vite's HMR needs (the
 * React refresh preamble is an inline script, updates come over a websocket).
 */
export const HUB_HOSTS = ['https://huggingface.co', 'https://*.huggingface.co', 'https://*.hf.co'];

export function contentSecurityPolicy(dev: boolean): string {
  const directives: Record<string, string[]> = {
    'default-src': ["'self'"],
    'script-src': ["'self'", ...(dev ? ["'unsafe-inline'"] : [])],
    'worker-src': ["'self'", 'blob:'],
    'connect-src': ["'self'", ...HUB_HOSTS, ...(dev ? ['ws:', 'wss:'] : [])],
    'img-src': ["'self'", 'data:', 'blob:'],
    'style-src': ["'self'", "'unsafe-inline'"],
    'font-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    'form-action': ["'none'"],
  };
  return Object.entries(directives)
    .map(([name, values]) => `${name} ${values.join(' ')}`)
    .join('; ');
}

function csp(): Plugin {
  let dev = false;
  return {
    name: 'content-security-policy',
    configResolved(config) {
      dev = config.command === 'serve';
    },
    transformIndexHtml: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy(dev) }, injectTo: 'head-prepend' }],
  };
}

export default defineConfig({
  plugins: [react(), csp()],
  // Relative base so the production build also works from a sub-path or file server.
  base: './',
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 4000 },
  test: {
    include: ['tests/**/*.test.ts', 'tests/**/*.test.tsx'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // WebGPU (Dawn) and the browser tests hold one device each: keep files in separate processes.
    pool: 'forks',
    fileParallelism: true,
  },
});
