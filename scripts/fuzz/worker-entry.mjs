// Plain JS entry for the fuzz worker thread: registers tsx in the thread, then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
