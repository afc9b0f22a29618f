/**
 * `npx tsx kernel/isolated/probe.ts`: measures the candidate transports between the main
 * thread and one worker on this machine, the figures transport.ts's header quotes:
 * postMessage at depth 1 and 32, the shared ring (ChannelEnd + Reactor) at depth 1 and
 * 32 with and without spinning, and a synchronous call (Atomics.wait on the worker,
 * answered by the main thread). Prints one line per figure, microseconds per round trip.
 * A program, not a test: it asserts nothing about time.
 */
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import { KERNEL_BELL, KERNEL_GATE_AT, WORKER_BELL, WorkerControl, newKernelControl, newWorkerControl } from './control.ts';
import { CoreGate, DoorbellWaiter, newRingBuffer } from './ring.ts';
import { ChannelEnd, Reactor } from './transport.ts';
import type { ProbeBoot, ProbeMsg } from './probe-worker.ts';

const BOOT_URL = new URL('./worker-boot.mjs', import.meta.url);
const PROBE_URL = new URL('./probe-worker.ts', import.meta.url).href;
const N = 20_000;

async function postMessageRtt(depth: number): Promise<number> {
  const w = new Worker(`require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m));`, { eval: true });
  try {
    const once = () =>
      new Promise<number>((resolve) => {
        let sent = 0;
        let got = 0;
        const t0 = performance.now();
        const on = () => {
          got++;
          if (sent < N) w.postMessage({ k: 'echo', i: sent++, body: { a: 1 } });
          else if (got === N) {
            w.off('message', on);
            resolve(((performance.now() - t0) * 1000) / N);
          }
        };
        w.on('message', on);
        while (sent < depth) w.postMessage({ k: 'echo', i: sent++, body: { a: 1 } });
      });
    await once(); // warm-up
    return await once();
  } finally {
    await w.terminate();
  }
}

interface Rig {
  channel: ChannelEnd<ProbeMsg, ProbeMsg>;
  reactor: Reactor;
  control: WorkerControl;
  handler: (m: ProbeMsg) => void;
  close(): Promise<void>;
}

function rig(spinUs: number): Rig {
  const kernelControl = newKernelControl();
  const words = new Int32Array(kernelControl);
  const gate = CoreGate.init(words, KERNEL_GATE_AT, os.availableParallelism());
  const control = new WorkerControl(newWorkerControl());
  const boot: ProbeBoot = { toWorker: newRingBuffer(), toKernel: newRingBuffer(), control: control.buffer, kernelControl, spinUs };
  const worker = new Worker(BOOT_URL, { workerData: { main: PROBE_URL, boot }, execArgv: [] });
  const r: Rig = {
    control,
    handler: () => {},
    channel: new ChannelEnd<ProbeMsg, ProbeMsg>({
      outRing: boot.toWorker,
      inRing: boot.toKernel,
      port: worker,
      peerWords: control.words,
      peerBell: WORKER_BELL,
      onReadable: () => r.reactor.poke(),
      onOverflow: () => {},
    }),
    reactor: undefined as unknown as Reactor,
    close: async () => {
      r.reactor.stop();
      await worker.terminate();
    },
  };
  const source = { drain: () => r.channel.drain((m) => r.handler(m)), hasData: () => r.channel.hasData() };
  r.reactor = new Reactor(gate, new DoorbellWaiter(words, KERNEL_BELL), words, KERNEL_BELL, spinUs, () => [source]);
  r.reactor.start();
  return r;
}

async function ringRtt(depth: number, spinUs: number): Promise<number> {
  const r = rig(spinUs);
  try {
    const once = () =>
      new Promise<number>((resolve) => {
        let sent = 0;
        let got = 0;
        const t0 = performance.now();
        r.handler = () => {
          got++;
          if (sent < N) r.channel.send({ k: 'echo', i: sent++, body: { a: 1 } });
          else if (got === N) resolve(((performance.now() - t0) * 1000) / N);
        };
        while (sent < depth) r.channel.send({ k: 'echo', i: sent++, body: { a: 1 } });
        r.reactor.expectAnswer();
      });
    await once(); // warm-up (and the worker's start)
    return await once();
  } finally {
    await r.close();
  }
}

async function syncRtt(spinUs: number): Promise<number> {
  const r = rig(spinUs);
  try {
    const once = () =>
      new Promise<number>((resolve) => {
        r.handler = (m) => {
          if (m.k === 'sys') r.control.answer({ ok: true, value: 7 });
          else if (m.k === 'syncDone') resolve(m.us);
        };
        r.channel.send({ k: 'sync', n: 5_000 });
      });
    await once();
    return await once();
  } finally {
    await r.close();
  }
}

export async function probeTransport(): Promise<{ name: string; us: number }[]> {
  const out: { name: string; us: number }[] = [];
  const add = (name: string, us: number) => out.push({ name, us });
  add('postMessage, depth 1', await postMessageRtt(1));
  add('postMessage, depth 32', await postMessageRtt(32));
  add('ring, depth 1, no spinning', await ringRtt(1, 0));
  add('ring, depth 1, spinning', await ringRtt(1, 60));
  add('ring, depth 32, no spinning', await ringRtt(32, 0));
  add('ring, depth 32, spinning', await ringRtt(32, 60));
  add('sync call, no spinning', await syncRtt(0));
  add('sync call, spinning', await syncRtt(60));
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const { name, us } of await probeTransport()) console.log(`${name.padEnd(32)} ${us.toFixed(2).padStart(8)} us per round trip`);
}
