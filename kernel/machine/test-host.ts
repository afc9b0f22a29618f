/**
 * A MachineHost for tests with no kernel: interrupts are collected in `interrupts`
 * (line numbers, in order), and deferred device work waits in a FIFO until `run()`.
 *
 * `run()` drains the FIFO, including work that work enqueues, and returns how many
 * items ran; it stops loudly after SYNC_HOST_STEPS_MAX items (a device that never
 * settles is a bug). Everything is synchronous and deterministic.
 */

import type { MachineHost } from './machine.ts';
import { SYNC_HOST_STEPS_MAX } from './limits.ts';

export class SyncHost implements MachineHost {
  readonly interrupts: number[] = [];
  private readonly work: (() => void)[] = [];

  raiseInterrupt(line: number): void {
    this.interrupts.push(line);
  }

  defer(work: () => void): void {
    this.work.push(work);
  }

  /** Deferred items waiting to run. */
  get pendingWork(): number {
    return this.work.length;
  }

  /** Runs deferred work until none is left; returns how many items ran. */
  run(): number {
    let steps = 0;
    for (let item = this.work.shift(); item !== undefined; item = this.work.shift()) {
      if (++steps > SYNC_HOST_STEPS_MAX) throw new Error(`SyncHost.run: more than ${SYNC_HOST_STEPS_MAX} steps; the device never settles`);
      item();
    }
    return steps;
  }

  /** Returns the interrupts raised so far and forgets them. */
  takeInterrupts(): number[] {
    return this.interrupts.splice(0, this.interrupts.length);
  }
}
