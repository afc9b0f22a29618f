/**
 * The entry module of every service worker (loaded by worker-boot.mjs once tsx is
 * registered): it reads what the kernel started it with and hands over to the runtime.
 * Nothing else runs in the worker but the service's own module.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerBoot } from './protocol.ts';
import { WorkerRuntime } from './worker-runtime.ts';

if (!parentPort) throw new Error('kernel/isolated/worker-main.ts runs only as a worker thread');
const boot = (workerData as { boot: WorkerBoot }).boot;
void new WorkerRuntime(boot, parentPort).run();
