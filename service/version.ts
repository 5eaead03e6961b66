// The daemon's version, from package.json, put in by esbuild at build time (scripts/build.mjs).
declare const ROVY_VERSION: string | undefined;

export const VERSION: string = typeof ROVY_VERSION === 'string' ? ROVY_VERSION : '0.0.0-dev';
