// The shared virtio-blk driver suite under the isolated kernel: the driver in its own
// worker thread, the device on the main thread, MMIO reads synchronous, DMA through grants.
import { afterEach } from 'vitest';
import { IsolatedKernel } from '../../kernel/isolated/isolated-kernel.ts';
import { driverSuite } from '../driver/suite.ts';
import { isolatedMode } from './driver-modes.ts';

afterEach(() => IsolatedKernel.shutdownAll());

driverSuite(isolatedMode);
