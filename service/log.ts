// The daemon's log: one concise line per event on stderr, which systemd's journal (or the
// terminal) keeps. Levels filter; nothing else is configurable because nothing else is needed.
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export class Log {
  constructor(public level: LogLevel = 'info') {}

  error(message: string): void {
    this.write('error', message);
  }
  warn(message: string): void {
    this.write('warn', message);
  }
  info(message: string): void {
    this.write('info', message);
  }
  debug(message: string): void {
    this.write('debug', message);
  }

  write(level: LogLevel, message: string): void {
    if (RANK[level] > RANK[this.level]) return;
    process.stderr.write(level === 'info' ? `rovy: ${message}\n` : `rovy: ${level}: ${message}\n`);
  }
}
