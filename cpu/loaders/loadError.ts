/**
 * A kernel or program that cannot be loaded (DESIGN decision 7): the error
 * names the file and says what is wrong with it, in one line, before
 * anything runs.
 */
export class LoadError extends Error {
  override readonly name = 'LoadError';
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
  }
}

export const hex = (v: number): string => '0x' + v.toString(16);
export const mib = (bytes: number): string => `${bytes / 1048576} MiB`;
