// dmalog's public entry.
export * from './uapi/abi.js';
export { ERRNO, VfioError, DmalogError, isErrno, type Errno } from './uapi/errno.js';
export * from './uapi/structs.js';
export { UserMemory, bitmapBytes } from './uapi/user-memory.js';
export { createHost, Host, DeviceHandle, type FeatureResult, type StartLogging, type ReportDirty } from './host/host.js';
export type { HostOptions, DeviceOptions, LogLevel } from './host/options.js';
export { IovaBitmap, reportBitCount, type Contract, type BitmapWindow } from './bitmap/iova-bitmap.js';
export { DirtyLog, type DirtyLogDescriptor, type LogRegion } from './device/dirty-log.js';
export type { Fault, TrackerState, TrackerStatus } from './device/tracker.js';
export { mergeRanges, profileStart, type ProfileName, type DeviceConfig } from './device/profiles.js';
export { Coordinator, errnoOf, type CoordinatorOptions, type RecoveryPolicy, type ReportSetResult, type TrackerOutcome, type Recovery } from './coordinator/coordinator.js';
export { ReportBitmap, ZeroingViolation, type BitmapState } from './coordinator/report-bitmap.js';
export type { DirtyTracker, ReportWindow, TrackerKind } from './coordinator/tracker.js';
export { migrate, WINDOW_MS, type MigrationHooks } from './migration/migration.js';
export type { MigrationOptions } from './migration/options.js';
export type { MigrationResult, IterationStats, Failure as MigrationFailure, NotConvergedCode } from './migration/result.js';
export { CpuDirtyTracker } from './migration/cpu-tracker.js';
export { renderReport } from './migration/report-html.js';
