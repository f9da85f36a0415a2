// contract §7: the numbers, sizes and offsets of iommufd's two dirty-tracking ioctls, named as in
// include/uapi/linux/iommufd.h. Nothing else in dmalog spells these out.

/** `_IO(type, nr)`: no direction or size bits, just the type byte and the command number. */
function io(type: number, nr: number): number {
  return (type << 8) | nr;
}

/** The ioctl type byte of iommufd, ';' (shared with VFIO). */
export const IOMMUFD_TYPE = 0x3b;
export const IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING = 0x8b;
export const IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP = 0x8c;
/** `_IO(';', 0x8b)` = 0x3b8b */
export const IOMMU_HWPT_SET_DIRTY_TRACKING = io(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING);
/** `_IO(';', 0x8c)` = 0x3b8c */
export const IOMMU_HWPT_GET_DIRTY_BITMAP = io(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP);

/** iommu_hwpt_set_dirty_tracking.flags */
export const IOMMU_HWPT_DIRTY_TRACKING_ENABLE = 1;
/** iommu_hwpt_get_dirty_bitmap.flags: read the dirty bits without clearing them. */
export const IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR = 1;

/** Every iommufd struct starts with `u32 size`: how many bytes the caller laid out. */
export const IOMMUFD_SIZE_OFFSET = 0;
export const IOMMUFD_SIZE_BYTES = 4;

/** struct iommu_hwpt_set_dirty_tracking (its size is also its minimum) */
export const SET_DIRTY_TRACKING_BYTES = 16;
export const SET_DIRTY_SIZE_OFFSET = 0;
export const SET_DIRTY_FLAGS_OFFSET = 4;
export const SET_DIRTY_HWPT_ID_OFFSET = 8;
export const SET_DIRTY_RESERVED_OFFSET = 12;

/** struct iommu_hwpt_get_dirty_bitmap (its size is also its minimum) */
export const GET_DIRTY_BITMAP_BYTES = 48;
export const GET_DIRTY_SIZE_OFFSET = 0;
export const GET_DIRTY_HWPT_ID_OFFSET = 4;
export const GET_DIRTY_FLAGS_OFFSET = 8;
export const GET_DIRTY_RESERVED_OFFSET = 12;
export const GET_DIRTY_IOVA_OFFSET = 16;
export const GET_DIRTY_LENGTH_OFFSET = 24;
export const GET_DIRTY_PAGE_SIZE_OFFSET = 32;
export const GET_DIRTY_DATA_OFFSET = 40;

/** The page-table granules the simulated IOMMU maps with: a 4 KiB PTE, or a 2 MiB huge one. */
export const IOMMU_PAGE_4K = 4096n;
export const IOMMU_PAGE_2M = 2n << 20n;
