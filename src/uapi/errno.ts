// The errnos dmalog answers with: names (stable, what tests assert on) and Linux numbers. The error
// classes that carry them are in src/errors.ts.

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

/** The C library's text for an errno (strerror). */
export function describeErrno(errno: Errno): string {
  return DESCRIPTIONS[errno];
}
