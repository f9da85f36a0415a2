// The IOMMU side of a stress run (--iommu-trackers N): one IOAS mapping the whole guest, 2 MiB
// IOPTEs over the first half where a 2 MiB block lies inside one report window and 4 KiB IOPTEs
// elsewhere, N HWPTs with dirty tracking on it, device t attached to HWPT t mod N. Each HWPT is
// an IommuTracker the rig puts in every report set beside the devices, and every DMA burst of an
// attached device marks its HWPT's log too (DeviceTracker.burstTarget).
//
// A 2 MiB IOPTE is one dirty bit for 512 pages, and a clearing GET clears only granules wholly
// inside its window: a huge block across two windows would be reported by both and cleared by
// neither, so such blocks are mapped at 4 KiB instead.
import type { Host } from '../host/host.js';
import type { ExtraTracker } from '../rig/rig.js';
import { HUGE_PAGES, type PageRange } from './checker.js';

const PAGE = 4096n;

export interface IommuMapping extends PageRange { huge: boolean }

/** The guest's mappings in page order, neighbours of one kind merged. */
export function stressIommuMappings(guestPages: number, windows: readonly PageRange[]): IommuMapping[] {
  const windowOf = (page: number) => windows.findIndex((w) => page >= w.from && page < w.to);
  const out: IommuMapping[] = [];
  const push = (from: number, to: number, huge: boolean) => {
    const last = out.at(-1);
    if (last && last.huge === huge && last.to === from) last.to = to;
    else out.push({ from, to, huge });
  };
  let page = 0;
  for (; page + HUGE_PAGES <= guestPages / 2; page += HUGE_PAGES) {
    push(page, page + HUGE_PAGES, windowOf(page) === windowOf(page + HUGE_PAGES - 1));
  }
  if (page < guestPages) push(page, guestPages, false);
  return out;
}

/** What a stress run's IOMMU trackers are: for the report and for the checker. */
export interface StressIommu {
  mappings: IommuMapping[];
  /** HWPT of device t (its index among the run's HWPTs), or null when not attached. */
  hwptOf: Array<number | null>;
  trackers: Array<{ name: string; hwptId: number; devices: string[] }>;
}

/**
 * The rig's extraTrackers hook for `count` HWPTs over [guestIova, guestIova + guestPages pages).
 * Fills `into` with the layout once made. The trackers close the iommufd with the rig.
 */
export function iommuTrackers(count: number, guestIova: bigint, mappings: IommuMapping[], into: StressIommu): (host: Host) => Promise<ExtraTracker[]> {
  return async (host) => {
    if (count === 0) return [];
    const iommufd = await host.openIommufd();
    try {
      const ioas = await iommufd.allocIoas();
      for (const m of mappings) await iommufd.map(ioas, guestIova + BigInt(m.from) * PAGE, BigInt(m.to - m.from) * PAGE, { huge: m.huge });
      const names = host.deviceNames;
      const devIds = await Promise.all(names.map((name) => iommufd.bind(host.device(name).fd)));
      const hwpts: number[] = [];
      for (let h = 0; h < count; h++) hwpts.push(await iommufd.allocHwpt(devIds[h]!, ioas, { dirtyTracking: true }));
      for (let t = 0; t < names.length; t++) await iommufd.attach(devIds[t]!, hwpts[t % count]!);
      into.mappings = mappings;
      into.hwptOf = names.map((_, t) => t % count);
      into.trackers = hwpts.map((hwptId, h) => ({ name: `iommu-${h}`, hwptId, devices: names.filter((_, t) => t % count === h) }));
      return hwpts.map((hwptId, h): ExtraTracker => Object.assign(iommufd.tracker(hwptId, `iommu-${h}`), h === 0 ? { close: () => iommufd.close() } : {}));
    } catch (error) {
      await iommufd.close();
      throw error;
    }
  };
}
