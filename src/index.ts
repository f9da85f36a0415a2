// dmalog's public entry.
export * from './uapi/abi.js';
export { ERRNO, isErrno, type Errno } from './uapi/errno.js';
export { ERROR_CODES, VfioError, ReportSetError, StartError, DmalogError, ZeroingViolation, InjectedFault, FuzzFailure, RecordFileError, GridMismatch, type DmalogCode } from './errors.js';
export * from './uapi/structs.js';
export { UserMemory, bitmapBytes } from './uapi/user-memory.js';
export { createHost, Host, type FeatureResult, type DeviceSnapshot, type StartLogging, type ReportDirty, type TransportKind, type IommufdHandle } from './host/host.js';
// DeviceHandle (the typed layer) and DmaDevice (its log generations) are now one class.
export { DeviceTracker, DeviceTracker as DeviceHandle } from './trackers/device-tracker.js';
export type { HostOptions, DeviceOptions, LogLevel } from './host/options.js';
export { IovaBitmap, reportBitCount, type Contract, type BitmapWindow } from './bitmap/iova-bitmap.js';
export { DirtyLog, type DirtyLogDescriptor, type LogRegion } from './device/dirty-log.js';
export type { Fault, DriverState, DriverStatus, DriverState as TrackerState, DriverStatus as TrackerStatus } from './device/driver.js';
export { mergeRanges, profileStart, type ProfileName, type DeviceConfig } from './device/profiles.js';
export { Coordinator, errnoOf, type CoordinatorOptions, type RecoveryPolicy, type ReportSetResult, type TrackerOutcome, type Recovery } from './coordinator/coordinator.js';
export { ReportBitmap, type BitmapState } from './coordinator/report-bitmap.js';
export type { DirtyTracker, ReportWindow, TrackerKind } from './trackers/tracker.js';
export { migrate, WINDOW_MS, type MigrationHooks, type MigrationProgress } from './migration/migration.js';
export type { MigrationOptions } from './migration/options.js';
export type { MigrationResult, IterationStats, Failure as MigrationFailure, NotConvergedCode } from './migration/result.js';
export { CpuDirtyTracker } from './trackers/cpu-tracker.js';
export { renderReport } from './migration/report-html.js';
export { DmaPool, type DmaPoolOptions } from './dma/pool.js';
export { runBurst } from './dma/engine.js';
export type { BurstTask, BurstResult } from './dma/types.js';
export { generatePages, WORKLOAD_KINDS, type WorkloadKind, type WorkloadSpec } from './workload/workload.js';
export { runStress, type StressReport } from './stress/runner.js';
export type { StressHistory, StressEvent } from './stress/history.js';
export type { LatencySummary } from './util/percentile.js';
export { renderStressReport } from './stress/report-html.js';
export type { StressOptions } from './stress/options.js';
export { createPrng, type Prng } from './util/prng.js';
// iommufd dirty tracking (contract §7)
export * from './iommufd/abi.js';
export * from './iommufd/structs.js';
export { checkIommufdCall, type HwptLookup, type IommufdCall, type SetTrackingCall, type GetBitmapCall } from './iommufd/validate.js';
export { Iommufd, HwPageTable, type IommufdOptions, type Mapping } from './iommufd/iommufd.js';
export { HwptLog, type HwptLogDescriptor, type MappingLogDescriptor } from './iommufd/hwpt-log.js';
export { iommufdIoctl, IommufdCalls, type GetDirtyBitmapRequest } from './iommufd/ioctl.js';
export { IommuTracker, type IommuTrackerOptions, type IommuDirtyCalls } from './trackers/iommu-tracker.js';
// vfio-user: the protocol codec and a server real VMM clients attach to
export { startVfioUserServer, fillServerOptions, VfioUserServer, SERVE_DEVICES, type VfioUserServerOptions, type FilledServerOptions, type ServeDevice } from './vfio-user/server.js';
export { QUIRKS, QUIRKS_NAMES, type Quirks, type QuirksName } from './vfio-user/quirks.js';
export { connectUnix, listenUnix, MessageSocket, type UnixListener, type CloseReason } from './vfio-user/unix-socket.js';
export { decodeMessage, encodeMessage, decodeHeader, nextFrame, isDecodeFailure, type Message, type OutgoingMessage, type Body, type Header, type DecodeFailure } from './vfio-user/codec.js';
export { VFIO_USER, HEADER_BYTES as VFIO_USER_HEADER_BYTES, commandName as vfioUserCommandName } from './vfio-user/protocol.js';
export { migrationWalk, type MigrationState } from './vfio-user/migration-state.js';
export type { DeviceModel, DeviceContext, DeviceFactory } from './vfio-user/device-model.js';
export * from './uapi/migration.js';
// Sweeps: a grid of migration scenarios run in parallel, resumable and sharded, merged into one result.
export { parseGrid, points, pointCount, gridSummary, type Grid, type GridFile, type GridSummary, type SweepPoint } from './sweep/grid.js';
export { runSweep, mergeSweeps, sweepFiles, type SweepOptions, type SweepOutcome, type MergeOutcome, type SweepFiles, type Shard } from './sweep/sweep.js';
export type { SweepRecord, Outcome as SweepPointOutcome } from './sweep/record.js';
