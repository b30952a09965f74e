/**
 * `conclave check lin FILE... [--model etcd|kv|register] [--json] [--timeout-ms N]`
 *
 * Checks each history file for linearizability. The format is detected from the content (Jepsen etcd
 * log, Jepsen EDN kv log, or our JSON-lines History from sim/history.ts), and from the extension when
 * the file is empty. Without --model, the model follows the format: etcd log → etcd, EDN → kv,
 * JSON lines → register.
 *
 * Prints `FILE: linearizable` or `FILE: not linearizable` (with a short explanation) per file, or with
 * --json one JSON object per line: {file, linearizable, ops, ms, model, format[, explanation]}.
 * Exit codes: 0 all linearizable, 1 any not linearizable or undecided (timeout), 2 bad usage (unknown
 * flag or model, missing or unreadable file, malformed history).
 */
import { readFileSync, statSync } from 'node:fs';
import { checkHistory, models, parseHistory, type HistoryFormat } from '../../sim/checkers/lin/index.js';
import { didYouMean } from '../../sim/suggest.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const processIo: Io = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

const USAGE = `Usage: conclave check lin FILE... [--model etcd|kv|register] [--json] [--timeout-ms N]

  Checks histories for linearizability (Wing-Gong/Lowe search, P-compositional, as Porcupine).
  Formats: Jepsen etcd logs, Jepsen EDN kv logs, conclave JSON-lines histories (detected by content).
  --model       etcd (one register with cas), kv (get/put/append per key), register (per key, cas).
                Default: etcd for etcd logs, kv for EDN logs, register for JSON lines.
  --json        one JSON object per file: file, linearizable, ops, ms, model, format.
  --timeout-ms  give up on a file after N ms (verdict "unknown", exit 1).
Exit: 0 all linearizable, 1 otherwise, 2 bad usage.
`;

const defaultModel: Record<HistoryFormat, string> = {
  'jepsen-etcd-log': 'etcd',
  'jepsen-edn-kv': 'kv',
  jsonl: 'register',
};

interface LinArgs {
  files: string[];
  model?: string;
  json: boolean;
  timeoutMs?: number;
}

function parseArgs(args: string[]): LinArgs | string {
  const parsed: LinArgs = { files: [], json: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    const value = (): string | undefined => inline ?? args[++i];
    if (flag === '--json') parsed.json = true;
    else if (flag === '--model') {
      const model = value();
      if (model === undefined) return '--model needs a value (etcd, kv or register)';
      if (!(model in models)) return `unknown model '${model}' (expected ${Object.keys(models).join(', ')})`;
      parsed.model = model;
    } else if (flag === '--timeout-ms') {
      const text = value();
      const ms = Number(text);
      if (text === undefined || !Number.isFinite(ms) || ms < 0)
        return `--timeout-ms needs a non-negative number, got ${text ?? 'nothing'}`;
      parsed.timeoutMs = ms;
    } else if (arg.startsWith('-') && arg !== '-')
      return `unknown flag '${arg}'${didYouMean(arg.replace(/^-+/, '').split('=')[0]!, ['model', 'json', 'timeout-ms', 'help'], '--')}`;
    else parsed.files.push(arg);
  }
  if (parsed.files.length === 0) return 'no history files given';
  return parsed;
}

export async function run(args: string[], io: Io = processIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
    io.out(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'lin') {
    io.err(`conclave check: unknown check '${sub}' (only 'lin' exists)\n\n${USAGE}`);
    return 2;
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    io.out(USAGE);
    return 0;
  }
  const parsed = parseArgs(rest);
  if (typeof parsed === 'string') {
    io.err(`conclave check lin: ${parsed}\n\n${USAGE}`);
    return 2;
  }
  for (const file of parsed.files) {
    let isFile = false;
    try {
      isFile = statSync(file).isFile();
    } catch {
      isFile = false;
    }
    if (!isFile) {
      io.err(`conclave check lin: no such file: ${file}\n`);
      return 2;
    }
  }

  let allLinearizable = true;
  for (const file of parsed.files) {
    let parsedHistory: ReturnType<typeof parseHistory>;
    try {
      parsedHistory = parseHistory(readFileSync(file, 'utf8'), file);
    } catch (error) {
      io.err(`conclave check lin: ${file}: ${(error as Error).message}\n`);
      return 2;
    }
    const modelName = parsed.model ?? defaultModel[parsedHistory.format];
    const model = models[modelName]!;
    let result: ReturnType<typeof checkHistory>;
    try {
      result = checkHistory(
        parsedHistory.ops,
        model,
        parsed.timeoutMs !== undefined ? { timeoutMs: parsed.timeoutMs } : {},
      );
    } catch (error) {
      // A model that cannot read the operations (e.g. --model kv on a cas history) is a usage error.
      io.err(`conclave check lin: ${file}: model ${modelName}: ${(error as Error).message}\n`);
      return 2;
    }
    if (result.linearizable !== true) allLinearizable = false;
    const ms = Math.round(result.ms * 1000) / 1000;
    if (parsed.json) {
      io.out(
        JSON.stringify({
          file,
          linearizable: result.linearizable,
          ops: parsedHistory.ops.length,
          ms,
          model: modelName,
          format: parsedHistory.format,
          ...(result.unknownReason ? { unknownReason: result.unknownReason } : {}),
          ...(result.explanation ? { explanation: result.explanation.text } : {}),
        }) + '\n',
      );
    } else if (result.linearizable === true) {
      io.out(`${file}: linearizable\n`);
    } else if (result.linearizable === false) {
      const text = result.explanation ? '\n' + result.explanation.text.replace(/^/gm, '  ') : '';
      io.out(`${file}: not linearizable${text}\n`);
    } else {
      const why =
        result.unknownReason === 'limit'
          ? 'the search reached its memory limit'
          : `gave up after ${parsed.timeoutMs} ms`;
      io.out(`${file}: unknown (${why})\n`);
    }
  }
  return allLinearizable ? 0 : 1;
}
