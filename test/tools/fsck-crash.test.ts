// The crash-consistency contract's last clause, with the offline checker: after a crash at
// any point and one recovery (a mount, then a power cut), `fsck` finds nothing to repair.
// States are spread over every crash family of two recorded workloads; the crash images
// come from the crash harness (tools/crashtest), the same ones it checks.
import { describe, expect, it } from 'vitest';
import { recordRun, bootCrashStack } from '../../tools/crashtest/record.ts';
import { findWorkload, OP_COUNT_DEFAULT } from '../../tools/crashtest/workloads.ts';
import { enumerateStates, crashImage } from '../../tools/crashtest/states.ts';
import { selectStates } from '../../tools/crashtest/run.ts';
import { ImageCursor } from '../../tools/crashtest/overlay.ts';
import { RecoveryDisk } from '../../tools/crashtest/recovery-disk.ts';
import { fsckImage } from '../../tools/fsck/index.ts';

describe('fsck after crash recovery', () => {
  for (const name of ['truncate-holes', 'many-small-files']) {
    it(`finds no problem after recovering crash states of '${name}'`, async () => {
      const run = await recordRun(findWorkload(name)!, 1, OP_COUNT_DEFAULT);
      const states = selectStates(enumerateStates(run.log, 1), ['flush', 'prefix', 'subsets', 'torn'], 8);
      expect(states.length).toBe(8);
      const cursor = new ImageCursor(run.base, run.log);
      let chunks = 0;
      for (const s of states) {
        const disk = new RecoveryDisk(crashImage(cursor, run.log, s));
        const sys = await bootCrashStack(disk, 1);
        await sys.kernel.idle();
        disk.powerOff();
        const r = await fsckImage(new RecoveryDisk(disk.durable), { repair: false });
        expect({ state: s.id, problems: r.problems.map((p) => `${p.area}/${p.kind}: ${p.message}`) }).toEqual({ state: s.id, problems: [] });
        chunks += r.checked.chunks ?? 0;
      }
      expect(chunks).toBeGreaterThan(0); // the checks looked at something
    }, 120_000);
  }
});
