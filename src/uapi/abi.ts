// contract §2: the numbers, sizes and offsets of the VFIO DMA-logging ABI, named as in
// include/uapi/linux/vfio.h. Nothing else in dmalog spells these out.

/** `_IO(';', 100 + 17)`: the one ioctl request every feature goes through. */
export const VFIO_DEVICE_FEATURE = 0x3b75;

export const VFIO_DEVICE_FEATURE_MASK = 0xffff;
export const VFIO_DEVICE_FEATURE_GET = 1 << 16;
export const VFIO_DEVICE_FEATURE_SET = 1 << 17;
export const VFIO_DEVICE_FEATURE_PROBE = 1 << 18;
/** Bits 19..31: reserved, must be zero. */
export const VFIO_DEVICE_FEATURE_RESERVED_MASK = 0xfff80000;

// Feature indexes as merged (the seed's V2 used 3/4/5; those went to low power).
export const VFIO_DEVICE_FEATURE_PCI_VF_TOKEN = 0;
export const VFIO_DEVICE_FEATURE_MIGRATION = 1;
export const VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE = 2;
export const VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY = 3;
export const VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP = 4;
export const VFIO_DEVICE_FEATURE_LOW_POWER_EXIT = 5;
export const VFIO_DEVICE_FEATURE_DMA_LOGGING_START = 6;
export const VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP = 7;
export const VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT = 8;
export const VFIO_DEVICE_FEATURE_MIG_DATA_SIZE = 9;
export const VFIO_DEVICE_FEATURE_BUS_MASTER = 10;
export const VFIO_DEVICE_FEATURE_DMA_BUF = 11;

/** struct vfio_device_feature { u32 argsz; u32 flags; u8 data[]; } */
export const FEATURE_HEADER_BYTES = 8;
export const FEATURE_ARGSZ_OFFSET = 0;
export const FEATURE_FLAGS_OFFSET = 4;
export const FEATURE_DATA_OFFSET = 8;

/** struct vfio_device_feature_dma_logging_control */
export const LOGGING_CONTROL_BYTES = 24;
export const CONTROL_PAGE_SIZE_OFFSET = 0;
export const CONTROL_NUM_RANGES_OFFSET = 8;
export const CONTROL_RESERVED_OFFSET = 12;
export const CONTROL_RANGES_OFFSET = 16;

/** struct vfio_device_feature_dma_logging_range */
export const LOGGING_RANGE_BYTES = 16;
export const RANGE_IOVA_OFFSET = 0;
export const RANGE_LENGTH_OFFSET = 8;

/** struct vfio_device_feature_dma_logging_report */
export const LOGGING_REPORT_BYTES = 32;
export const REPORT_IOVA_OFFSET = 0;
export const REPORT_LENGTH_OFFSET = 8;
export const REPORT_PAGE_SIZE_OFFSET = 16;
export const REPORT_BITMAP_OFFSET = 24;

/** Minimum `argsz - 8` per feature (STOP carries no payload). */
export const MIN_PAYLOAD_BYTES = {
  [VFIO_DEVICE_FEATURE_DMA_LOGGING_START]: LOGGING_CONTROL_BYTES,
  [VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP]: 0,
  [VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT]: LOGGING_REPORT_BYTES,
} as const;

/** Smallest REPORT page size the core accepts. */
export const MIN_REPORT_PAGE_SIZE = 4096n;

/** LOG_MAX_RANGES = host page size / sizeof(range). */
export function logMaxRanges(hostPageSize: number): number {
  return Math.floor(hostPageSize / LOGGING_RANGE_BYTES);
}

export const U64_MAX = (1n << 64n) - 1n;
export const BITS_PER_U64 = 64;
export const BYTES_PER_U64 = 8;

export type LoggingFeature =
  | typeof VFIO_DEVICE_FEATURE_DMA_LOGGING_START
  | typeof VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP
  | typeof VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;

export const FEATURE_NAMES: Record<LoggingFeature, 'START' | 'STOP' | 'REPORT'> = {
  [VFIO_DEVICE_FEATURE_DMA_LOGGING_START]: 'START',
  [VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP]: 'STOP',
  [VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT]: 'REPORT',
};
