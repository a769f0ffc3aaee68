/** Type of a configuration value. */
export type ConfigType = 'string' | 'int' | 'number' | 'bool' | 'list';

/** One setting: where it comes from, its default, and what it means. */
export interface SettingSpec<T extends ConfigType = ConfigType> {
  type: T;
  /** Environment variable ("ETCD_ENDPOINTS"). */
  env?: string;
  /** Command-line flag without dashes ("etcd-endpoints"); `--flag value` or `--flag=value`. */
  flag?: string;
  /** Value when neither is given; absent means required. */
  default?: ValueOf<T>;
  /** For --help: what it is, with its unit. */
  description: string;
  /** Allowed range for int/number. */
  min?: number;
  max?: number;
}

type ValueOf<T extends ConfigType> = T extends 'string' ? string : T extends 'int' | 'number' ? number : T extends 'bool' ? boolean : readonly string[];

/** The parsed configuration of a spec. */
export type ConfigOf<S extends Record<string, SettingSpec>> = { [K in keyof S]: ValueOf<S[K]['type']> };

/** A configuration problem a person can fix: the message names the variable or flag. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function convert(spec: SettingSpec, raw: string, source: string): unknown {
  switch (spec.type) {
    case 'string':
      return raw;
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new ConfigError(`${source}: expected true or false, got "${raw}"`);
    case 'int':
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || (spec.type === 'int' && !Number.isInteger(n))) {
        throw new ConfigError(`${source}: expected ${spec.type === 'int' ? 'an integer' : 'a number'}, got "${raw}"`);
      }
      if (spec.min !== undefined && n < spec.min) throw new ConfigError(`${source}: must be >= ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max) throw new ConfigError(`${source}: must be <= ${spec.max}, got ${n}`);
      return n;
    }
  }
}

/**
 * Reads settings from flags (which win) and environment variables, with validation. Unknown flags
 * are errors, so a typo does not silently fall back to a default. `--help` is handled by the
 * caller through {@link formatHelp}.
 */
export function parseConfig<S extends Record<string, SettingSpec>>(
  spec: S,
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): ConfigOf<S> {
  const flags = new Map<string, string>();
  const byFlag = new Map(Object.entries(spec).filter(([, s]) => s.flag).map(([k, s]) => [s.flag!, k]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}" (see --help)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const key = byFlag.get(name);
    if (!key) throw new ConfigError(`unknown flag --${name} (see --help)`);
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (spec[key]!.type === 'bool' && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--'))) value = 'true';
    else value = argv[++i];
    if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    flags.set(key, value);
  }
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(spec)) {
    const fromFlag = flags.get(key);
    const fromEnv = s.env ? env[s.env] : undefined;
    if (fromFlag !== undefined) out[key] = convert(s, fromFlag, `--${s.flag}`);
    else if (fromEnv !== undefined && fromEnv !== '') out[key] = convert(s, fromEnv, s.env!);
    else if (s.default !== undefined) out[key] = s.default;
    else throw new ConfigError(`missing setting: ${[s.flag && `--${s.flag}`, s.env].filter(Boolean).join(' or ')} (${s.description})`);
  }
  return out as ConfigOf<S>;
}

/** Usage text listing every setting with its flag, variable, default and meaning. */
export function formatHelp(command: string, summary: string, spec: Record<string, SettingSpec>): string {
  const rows = Object.values(spec).map((s) => {
    const names = [s.flag && `--${s.flag}`, s.env && `$${s.env}`].filter(Boolean).join(', ');
    const def = s.default === undefined ? 'required' : `default ${Array.isArray(s.default) ? s.default.join(',') : String(s.default)}`;
    return `  ${names}\n      ${s.description} (${def})`;
  });
  return `Usage: ${command} [flags]\n\n${summary}\n\nSettings (flags win over environment variables):\n${rows.join('\n')}\n  --help\n      Print this help and exit.\n`;
}
