// Worker bootstrap: services are TypeScript modules, and a worker starts with plain Node
// loaders whatever its parent runs under (the tsx CLI, vitest, tools/strata.js). So the
// first thing a worker does is register tsx's ESM loader for itself, then it imports
// the module the kernel named (kernel/isolated/worker-main.ts). Plain JS on purpose:
// this is the one file that must load before TypeScript can.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.main);
