// The shared virtio-blk driver suite under the deterministic kernel (one thread, seeded).
import { driverSuite } from './driver-suite.ts';
import { deterministicMode } from './driver-modes.ts';

driverSuite(deterministicMode);
