/** The logging surface adapters use; pino's logger satisfies it. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};
/** Adapters are quiet unless the app hands them a logger. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
