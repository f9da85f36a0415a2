// VFIO migration v2 as include/uapi/linux/vfio.h has it: the two device features a migration driver
// answers (MIGRATION, MIG_DEVICE_STATE), their flag bits and device states, and their structs.
// Little-endian; the vfio-user front end carries these structs inline.
import { VFIO_DEVICE_FEATURE_MIGRATION, VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE } from './abi.js';

export { VFIO_DEVICE_FEATURE_MIGRATION, VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE };

/** struct vfio_device_feature_migration { __aligned_u64 flags; } */
export const MIGRATION_FEATURE_BYTES = 8;
export const VFIO_MIGRATION_STOP_COPY = 1 << 0;
export const VFIO_MIGRATION_P2P = 1 << 1;
export const VFIO_MIGRATION_PRE_COPY = 1 << 2;

/** struct vfio_device_feature_mig_state { __u32 device_state; __s32 data_fd; } */
export const MIG_STATE_BYTES = 8;
export const MIG_STATE_DEVICE_STATE_OFFSET = 0;
export const MIG_STATE_DATA_FD_OFFSET = 4;

/** enum vfio_device_mig_state */
export const VFIO_DEVICE_STATE = {
  ERROR: 0,
  STOP: 1,
  RUNNING: 2,
  STOP_COPY: 3,
  RESUMING: 4,
  RUNNING_P2P: 5,
  PRE_COPY: 6,
  PRE_COPY_P2P: 7,
} as const;
export type DeviceStateName = keyof typeof VFIO_DEVICE_STATE;

export interface MigState { deviceState: number; dataFd: number }

const LE = true;

/** data_fd is signed in the kernel struct: -1 means "no fd" (vfio-user clients send 0xffffffff). */
export function decodeMigState(view: DataView, at: number): MigState {
  return {
    deviceState: view.getUint32(at + MIG_STATE_DEVICE_STATE_OFFSET, LE),
    dataFd: view.getInt32(at + MIG_STATE_DATA_FD_OFFSET, LE),
  };
}
export function encodeMigState(view: DataView, at: number, s: MigState): void {
  view.setUint32(at + MIG_STATE_DEVICE_STATE_OFFSET, s.deviceState >>> 0, LE);
  view.setInt32(at + MIG_STATE_DATA_FD_OFFSET, s.dataFd | 0, LE);
}

export function decodeMigrationFlags(view: DataView, at: number): bigint {
  return view.getBigUint64(at, LE);
}
export function encodeMigrationFlags(view: DataView, at: number, flags: bigint): void {
  view.setBigUint64(at, BigInt.asUintN(64, flags), LE);
}
