/**
 * Go `flag` package syntax, as Consul's commands use it: `-f value`, `-f=value`, `--f`, `--f=value`;
 * booleans are bare (`-server`) or `-server=true|false` (never `-server false`). Parsing stops at the
 * first non-flag argument or at `--`. Errors name the flag, as Go does ("flag provided but not
 * defined: -foo").
 */
export type FlagKind = 'bool' | 'string' | 'int' | 'list';

export interface FlagSpec {
  readonly kind: FlagKind;
  readonly usage: string;
  /** Refused with this message instead of parsed (flags for later issues). */
  readonly refused?: string;
}

export type FlagValues = Record<string, boolean | string | number | string[]>;

export type FlagParse = { ok: true; values: FlagValues; rest: string[] } | { ok: false; error: string };

export function parseFlags(args: readonly string[], specs: Readonly<Record<string, FlagSpec>>): FlagParse {
  const values: FlagValues = {};
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const inline = eq < 0 ? undefined : body.slice(eq + 1);
    if (name === 'h' || name === 'help') return { ok: false, error: 'help' };
    const spec = specs[name];
    if (!spec) return { ok: false, error: `flag provided but not defined: -${name}` };
    if (spec.refused) return { ok: false, error: `-${name}: ${spec.refused}` };
    let raw: string;
    if (spec.kind === 'bool') {
      if (inline === undefined) {
        values[name] = true;
        continue;
      }
      const b = parseBool(inline);
      if (b === undefined) return { ok: false, error: `invalid boolean value "${inline}" for -${name}` };
      values[name] = b;
      continue;
    }
    if (inline !== undefined) raw = inline;
    else {
      if (i + 1 >= args.length) return { ok: false, error: `flag needs an argument: -${name}` };
      raw = args[++i]!;
    }
    if (spec.kind === 'int') {
      if (!/^-?\d+$/.test(raw)) return { ok: false, error: `invalid value "${raw}" for flag -${name}: parse error` };
      values[name] = Number(raw);
    } else if (spec.kind === 'list') {
      const list = (values[name] as string[] | undefined) ?? [];
      list.push(raw);
      values[name] = list;
    } else values[name] = raw;
  }
  return { ok: true, values, rest: args.slice(i) };
}

function parseBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
  return undefined;
}

export function flagUsage(specs: Readonly<Record<string, FlagSpec>>): string {
  return Object.entries(specs)
    .filter(([, s]) => !s.refused)
    .map(([name, s]) => `  -${name}${s.kind === 'bool' ? '' : '=<value>'}\n      ${s.usage}`)
    .join('\n');
}
