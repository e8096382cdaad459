import type { ModelSource } from '../worker/protocol';

/** The app's own small BERT (public/models/builtin/), resolved against the page so it works from any sub-path. */
export const BUILTIN_SOURCE: ModelSource = { kind: 'builtin', baseUrl: new URL('models/builtin/', document.baseURI).href };
