// The conformance cases against the filesystem engine over in-memory seams.
import { describe } from 'vitest';
import { conformanceCases } from './conformance.ts';
import { memFs } from './mem-seams.ts';

describe('fs conformance: engine over in-memory chunks and log', () => {
  conformanceCases(memFs);
});
