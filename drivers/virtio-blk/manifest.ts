/**
 * The driver's manifest for one machine device: the capabilities it holds are exactly
 * that device's MMIO window, its interrupt line, and DMA; it calls no other service.
 * `service` runs it under the deterministic kernel, `entry` in a worker (isolated mode).
 */
import type { Manifest } from '../../kernel/service.ts';
import type { MachineDevice } from '../../kernel/machine/machine.ts';
import { virtioBlkService, type VirtioBlkConfig } from './driver.ts';
import { VIRTIO_BLK_ENDPOINT } from './protocol.ts';

export function virtioBlkManifest(
  device: Pick<MachineDevice, 'base' | 'irqLine'>,
  options: { name?: string; endpoint?: string; config?: Partial<VirtioBlkConfig> } = {},
): Manifest<VirtioBlkConfig> {
  return {
    name: options.name ?? 'virtio-blk',
    provides: [options.endpoint ?? VIRTIO_BLK_ENDPOINT],
    calls: [],
    irqs: [device.irqLine],
    mmio: [device.base],
    dma: true,
    config: { base: device.base, irqLine: device.irqLine, ...options.config },
    service: virtioBlkService,
    // The isolated kernel starts the same service in a worker by module and export name.
    entry: { module: new URL('./driver.ts', import.meta.url).href, export: 'virtioBlkService' },
  };
}
