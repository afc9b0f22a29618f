/**
 * The worker half of probe.ts: echoes every envelope it receives over the isolated
 * transport (ChannelEnd + Reactor), or makes synchronous calls to the main thread, so
 * the probe measures the transport alone, without a kernel or a service around it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { KERNEL_BELL, KERNEL_GATE_AT, WORKER_BELL, WORKER_GATE_SHARE, WorkerControlClient } from './control.ts';
import { CoreGate, DoorbellWaiter } from './ring.ts';
import { ChannelEnd, Reactor } from './transport.ts';

export interface ProbeBoot {
  toWorker: SharedArrayBuffer;
  toKernel: SharedArrayBuffer;
  control: SharedArrayBuffer;
  kernelControl: SharedArrayBuffer;
  spinUs: number;
}

export type ProbeMsg = { k: 'echo'; i: number; body?: unknown } | { k: 'sync'; n: number } | { k: 'syncDone'; us: number } | { k: 'sys' };

if (parentPort) {
  const port = parentPort;
  const boot = (workerData as { boot: ProbeBoot }).boot;
  const kernelWords = new Int32Array(boot.kernelControl);
  const gate = new CoreGate(kernelWords, KERNEL_GATE_AT, { words: new Int32Array(boot.control, 0, 16), at: WORKER_GATE_SHARE });
  const control = new WorkerControlClient(boot.control, gate);
  const channel: ChannelEnd<ProbeMsg, ProbeMsg> = new ChannelEnd<ProbeMsg, ProbeMsg>({
    outRing: boot.toKernel,
    inRing: boot.toWorker,
    port,
    peerWords: kernelWords,
    peerBell: KERNEL_BELL,
    onReadable: () => reactor.poke(),
    onOverflow: () => {},
  });
  const handle = (m: ProbeMsg) => {
    if (m.k === 'echo') return channel.send(m);
    if (m.k === 'sync') {
      const t0 = performance.now();
      for (let i = 0; i < m.n; i++) control.call(() => (channel.send({ k: 'sys' }), channel.flushBlocking()));
      channel.send({ k: 'syncDone', us: ((performance.now() - t0) * 1000) / m.n });
    }
  };
  const source = { drain: () => channel.drain(handle), hasData: () => channel.hasData() };
  const reactor: Reactor = new Reactor(gate, new DoorbellWaiter(control.words, WORKER_BELL), control.words, WORKER_BELL, boot.spinUs, () => [source]);
  reactor.start();
  setInterval(() => {}, 1000);
}
