// ConfigError: one problem in a config file, as one line a person can act on.
//
//   FILE:LINE: FIELD: what is wrong          e.g. /etc/rovy/rovy.toml:7: tun.mtu: must be ...
//
// FIELD is the setting's path as written in TOML ("tun.mtu", "listen[0]", "peer[1].address";
// array indexes count from 0), or "syntax" for text that is not TOML. Errors about the file as a
// whole (it cannot be read) have neither LINE nor FIELD. Control characters are escaped so the
// message stays on one line whatever the file holds.

export class ConfigError extends Error {
  readonly file: string;
  readonly line: number | undefined;
  readonly field: string | undefined;
  readonly problem: string;

  constructor(file: string, line: number | undefined, field: string | undefined, problem: string) {
    const where = line === undefined ? file : `${file}:${line}`;
    super(oneLine(field === undefined ? `${where}: ${problem}` : `${where}: ${field}: ${problem}`));
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
    this.field = field;
    this.problem = problem;
  }
}

function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}
