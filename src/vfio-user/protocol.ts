// The vfio-user wire numbers: the 16-byte header, command numbers, flag bits of each command's
// struct, and the limits dmalog's codec applies. Everything is little-endian; a message is one
// header plus its payload, `msg_size` counting both. The kernel's own structs (DEVICE_FEATURE's
// payloads, migration v2) are in src/uapi and are not restated here.
import { CONTROL_RANGES_OFFSET, REPORT_BITMAP_OFFSET } from '../uapi/abi.js';

/** struct vfio_user_header { u16 msg_id; u16 cmd; u32 msg_size; u32 flags; u32 error_no; } */
export const HEADER_BYTES = 16;
export const HEADER_MSG_ID_OFFSET = 0;
export const HEADER_CMD_OFFSET = 2;
export const HEADER_MSG_SIZE_OFFSET = 4;
export const HEADER_FLAGS_OFFSET = 8;
export const HEADER_ERROR_NO_OFFSET = 12;

/** Header flags: bits 0-3 the type, then NO_REPLY and ERROR; every other bit is reserved. */
export const FLAGS_TYPE_MASK = 0xf;
export const FLAGS_TYPE_COMMAND = 0;
export const FLAGS_TYPE_REPLY = 1;
export const FLAGS_NO_REPLY = 0x10;
export const FLAGS_ERROR = 0x20;
export const FLAGS_KNOWN_MASK = FLAGS_TYPE_MASK | FLAGS_NO_REPLY | FLAGS_ERROR;

/**
 * The commands libvfio-user's sample pair speaks, the ones this codec has layouts for. Any other
 * number is unknown and answered EINVAL: 6 (GET_REGION_IO_FDS) is not spoken, and 14 was the old
 * DIRTY_PAGES, since removed. DMA_READ and DMA_WRITE go server → client.
 */
export const VFIO_USER = {
  VERSION: 1,
  DMA_MAP: 2,
  DMA_UNMAP: 3,
  DEVICE_GET_INFO: 4,
  DEVICE_GET_REGION_INFO: 5,
  DEVICE_GET_IRQ_INFO: 7,
  DEVICE_SET_IRQS: 8,
  REGION_READ: 9,
  REGION_WRITE: 10,
  DMA_READ: 11,
  DMA_WRITE: 12,
  DEVICE_RESET: 13,
  DEVICE_FEATURE: 16,
  MIG_DATA_READ: 17,
  MIG_DATA_WRITE: 18,
} as const;
export type CommandName = keyof typeof VFIO_USER;
export type Command = (typeof VFIO_USER)[CommandName];

const NAMES = new Map<number, CommandName>(Object.entries(VFIO_USER).map(([k, v]) => [v, k as CommandName]));
/** The command's name, or undefined for a number the protocol does not have. */
export function commandName(cmd: number): CommandName | undefined {
  return NAMES.get(cmd);
}

/** The protocol version dmalog speaks (the sample client sends 0.2 and requires major 0). */
export const VFIO_USER_MAJOR = 0;
export const VFIO_USER_MINOR = 2;

/** VERSION capabilities a peer gets when the JSON leaves a key out. */
export const DEFAULT_MAX_MSG_FDS = 1;
export const DEFAULT_MAX_DATA_XFER_SIZE = 1 << 20;

// struct vfio_user_dma_map / dma_unmap
export const DMA_MAP_BYTES = 32;
export const DMA_UNMAP_BYTES = 24;
/** struct vfio_user_bitmap { u64 pgsize; u64 size; } after an UNMAP with GET_DIRTY_BITMAP. */
export const DMA_BITMAP_BYTES = 16;
export const DMA_MAP_FLAG_READ = 1;
export const DMA_MAP_FLAG_WRITE = 2;
export const DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1;
export const DMA_UNMAP_FLAG_ALL = 2;

// struct vfio_device_info
export const DEVICE_INFO_BYTES = 16;
export const DEVICE_FLAGS_RESET = 1;
export const DEVICE_FLAGS_PCI = 2;

// struct vfio_region_info and its sparse-mmap capability
export const REGION_INFO_BYTES = 32;
export const REGION_INFO_FLAG_READ = 1;
export const REGION_INFO_FLAG_WRITE = 2;
export const REGION_INFO_FLAG_MMAP = 4;
export const REGION_INFO_FLAG_CAPS = 8;
/** struct vfio_info_cap_header { u16 id; u16 version; u32 next; } */
export const CAP_HEADER_BYTES = 8;
export const REGION_INFO_CAP_SPARSE_MMAP = 1;
/** struct vfio_region_info_cap_sparse_mmap: header, u32 nr_areas, u32 reserved, areas. */
export const SPARSE_MMAP_BYTES = 16;
export const SPARSE_MMAP_AREA_BYTES = 16;

// struct vfio_irq_info / vfio_irq_set
export const IRQ_INFO_BYTES = 16;
export const IRQ_INFO_EVENTFD = 1;
export const IRQ_SET_BYTES = 20;
export const IRQ_SET_DATA_NONE = 1 << 0;
export const IRQ_SET_DATA_BOOL = 1 << 1;
export const IRQ_SET_DATA_EVENTFD = 1 << 2;
export const IRQ_SET_ACTION_MASK = 1 << 3;
export const IRQ_SET_ACTION_UNMASK = 1 << 4;
export const IRQ_SET_ACTION_TRIGGER = 1 << 5;

/** struct vfio_user_region_access { u64 offset; u32 region; u32 count; u8 data[]; } */
export const REGION_ACCESS_BYTES = 16;
/** struct vfio_user_dma_region_access { u64 addr; u64 count; u8 data[]; } */
export const DMA_ACCESS_BYTES = 16;
/** struct vfio_user_mig_data { u32 argsz; u32 size; u8 data[]; } */
export const MIG_DATA_BYTES = 8;

/**
 * DEVICE_FEATURE carries the kernel's structs with their user pointers cut off: START's ranges
 * follow the control struct at the offset the `ranges` pointer has in the kernel, and REPORT's
 * bitmap bytes follow the report struct at the `bitmap` pointer's offset (reply only).
 */
export const INLINE_CONTROL_BYTES = CONTROL_RANGES_OFFSET;
export const INLINE_REPORT_BYTES = REPORT_BITMAP_OFFSET;

/**
 * The largest message the codec accepts by default: a header, a region-access struct and a
 * 1 MiB data transfer (the most dmalog advertises as max_data_xfer_size). Every other command is
 * smaller (a START with LOG_MAX_RANGES ranges of a 64 KiB host page is 65 KiB).
 */
export const DEFAULT_MAX_MESSAGE_BYTES = HEADER_BYTES + REGION_ACCESS_BYTES + DEFAULT_MAX_DATA_XFER_SIZE;
/** The fds a message may carry by default: what dmalog advertises as max_msg_fds. */
export const DEFAULT_MAX_FDS = 8;
