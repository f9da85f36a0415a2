// The only place dmalog defines errors. An error is identified by its `errno` name
// (stable, what tests assert on) and `code` (the positive Linux number).

export const ERRNO = {
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  E2BIG: 7,
  ENOMEM: 12,
  EFAULT: 14,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
  ETIMEDOUT: 110,
} as const;

export type Errno = keyof typeof ERRNO;

const DESCRIPTIONS: Record<Errno, string> = {
  ENOENT: 'No such file or directory',
  EIO: 'Input/output error',
  EBADF: 'Bad file descriptor',
  E2BIG: 'Argument list too long',
  ENOMEM: 'Cannot allocate memory',
  EFAULT: 'Bad address',
  ENODEV: 'No such device',
  EINVAL: 'Invalid argument',
  ENOTTY: 'Inappropriate ioctl for device',
  EOVERFLOW: 'Value too large for defined data type',
  EOPNOTSUPP: 'Operation not supported',
  ETIMEDOUT: 'Connection timed out',
};

export function isErrno(name: unknown): name is Errno {
  return typeof name === 'string' && Object.hasOwn(ERRNO, name);
}

const kVfioError = Symbol.for('dmalog.VfioError');

/** What an ioctl or DMA call rejects with. */
export class VfioError extends Error {
  readonly errno: Errno;
  readonly code: number;
  override name = 'VfioError';

  constructor(errno: Errno, detail?: string) {
    super(detail ? `${errno} (${DESCRIPTIONS[errno]}): ${detail}` : `${errno} (${DESCRIPTIONS[errno]})`);
    this.errno = errno;
    this.code = ERRNO[errno];
  }

  get [kVfioError](): true {
    return true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kVfioError] === true;
  }
}

/** Errors of the library itself (not the simulated kernel): closed objects, bad options. */
export class DmalogError extends Error {
  override name = 'DmalogError';
  constructor(readonly code: 'DMALOG_CLOSED' | 'DMALOG_BAD_OPTION' | 'DMALOG_ZEROING_RULE' | 'DMALOG_STATE' | 'DMALOG_NO_MEMORY', message: string) {
    super(message);
  }
}
