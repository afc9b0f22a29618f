// The conformance cases against the reference model (served through the kernel, so the
// protocol's validation and error values are exercised too).
import { describe } from 'vitest';
import { Kernel } from '../../kernel/kernel.ts';
import { FsClient } from '../../services/fs/protocol.ts';
import { modelFsManifest } from '../../tools/model/fs-model.ts';
import { conformanceCases } from './conformance.ts';

describe('fs conformance: reference model', () => {
  conformanceCases(async () => {
    const kernel = new Kernel({ seed: 3 });
    await kernel.spawn(modelFsManifest());
    const fs = new FsClient(kernel.attach({ name: 'app', calls: ['fs'] }));
    return { fs, close: () => kernel.shutdown() };
  });
});
