// Where a vfio-user server may answer differently from the kernel's VFIO, as data: `kernel` (the
// default) carries the kernel's uAPI rules over the wire, `libvfio-user` reproduces what
// libvfio-user's server library does (read from its sample server; see README "kernel vs
// libvfio-user semantics"). Every rule both modes share lives in the host (vfio-core, validate,
// profiles); this table only says which translation a session applies.
export type QuirksName = 'kernel' | 'libvfio-user';
export const QUIRKS_NAMES: readonly QuirksName[] = ['kernel', 'libvfio-user'];

export interface Quirks {
  readonly name: QuirksName;
  /**
   * START's ranges: `given` (the kernel's; num_ranges 0 is translated to every mapped DMA
   * region, since the kernel would refuse 0), or `mapped-with-fd` (libvfio-user ignores the
   * ranges and logs every region mapped with an fd).
   */
  readonly startRanges: 'given' | 'mapped-with-fd';
  /** A START while logging with the same page size succeeds (libvfio-user) instead of EINVAL. */
  readonly restartSamePageSize: boolean;
  /**
   * REPORT windows: `kernel` (any window; the device profile decides what outside its ranges
   * means), or `one-region`: exactly one mapped region (a sub-range ENOTSUP, an unmapped iova
   * ENOENT, a region without an fd EINVAL, a page size above the length EINVAL, and a window
   * spanning two regions a success reply with no payload, as libvfio-user answers).
   */
  readonly reportWindow: 'kernel' | 'one-region';
  /** DMA the device does by DMA_WRITE messages is marked in its log (libvfio-user: never). */
  readonly logMessageDma: boolean;
  /**
   * libvfio-user's per-state command rules: in STOP and STOP_COPY only REGION_READ/WRITE,
   * DEVICE_FEATURE and MIG_DATA_READ (no region access in STOP_COPY), RESET refused in STOP.
   */
  readonly stateCommandRules: boolean;
  /** DEVICE_FEATURE with a feature the device lacks: ENOTTY (kernel) or EINVAL (libvfio-user). */
  readonly unknownFeatureErrno: 'ENOTTY' | 'EINVAL';
}

export const QUIRKS: Record<QuirksName, Quirks> = {
  kernel: {
    name: 'kernel', startRanges: 'given', restartSamePageSize: false, reportWindow: 'kernel', logMessageDma: true,
    stateCommandRules: false, unknownFeatureErrno: 'ENOTTY',
  },
  'libvfio-user': {
    name: 'libvfio-user', startRanges: 'mapped-with-fd', restartSamePageSize: true, reportWindow: 'one-region', logMessageDma: false,
    stateCommandRules: true, unknownFeatureErrno: 'EINVAL',
  },
};
