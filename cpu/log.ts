/**
 * Diagnostics (DESIGN decision 8): tslog, one sub-logger per layer, quiet by
 * default. Traces are data and never go through here.
 */
import { format } from 'node:util';
import { Logger } from 'tslog';

export const LOG_LEVELS = ['silly', 'trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const DEFAULT_LEVEL = LOG_LEVELS.indexOf('warn');

export const rootLog = new Logger<unknown>({
  name: 'turtles',
  type: 'pretty',
  minLevel: DEFAULT_LEVEL,
  hideLogPositionForProduction: true,
  // Diagnostics go to stderr: stdout carries the machine's own output (serial console, reports).
  overwrite: {
    transportFormatted: (meta, args, errors) => {
      const tail = errors.length ? `\n${errors.join('\n')}` : '';
      process.stderr.write(`${meta}${format(...args)}${tail}\n`);
    },
  },
});

const layers: Logger<unknown>[] = [rootLog];

/** A layer's logger; its level follows setLogLevel. */
export function layerLog(name: string): Logger<unknown> {
  const l = rootLog.getSubLogger({ name, minLevel: rootLog.settings.minLevel });
  layers.push(l);
  return l;
}

export function setLogLevel(level: LogLevel): void {
  for (const l of layers) l.settings.minLevel = LOG_LEVELS.indexOf(level);
}

export const cpuLog = layerLog('cpu');
