/**
 * `conclave kv get|put|delete`, Consul's `consul kv` over the HTTP API:
 *   kv get KEY [-recurse] [-detailed]       prints the value (or `key:value` lines with -recurse)
 *   kv put KEY [VALUE|-|@file] [-flags N] [-cas -modify-index N]
 *   kv delete KEY [-recurse] [-cas -modify-index N]
 */
import { parseJsonExact } from '../../net/http/parse.js';
import * as fs from 'node:fs';
import { AgentUnreachable, commandFlags, request } from '../agent/client.js';
import { parseKvFlags } from '../../core/store/types.js';

const usage =
  'Usage: conclave kv <get|put|delete> [options] KEY [VALUE]\n\n  -recurse  -detailed  -cas  -modify-index=N  -flags=N  -http-addr=<addr>\n';

interface KvEntry {
  Key: string;
  Value: string | null;
  Flags: number | string;
  CreateIndex: number;
  ModifyIndex: number;
  LockIndex: number;
  Session?: string;
}

const keyPath = (key: string) => key.split('/').map(encodeURIComponent).join('/');
const decodeValue = (v: string | null) => (v === null ? '' : Buffer.from(v, 'base64').toString('utf8'));

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'get':
        return await get(rest);
      case 'put':
        return await put(rest);
      case 'delete':
        return await del(rest);
      default:
        process.stderr.write(usage);
        return 1;
    }
  } catch (error) {
    if (!(error instanceof AgentUnreachable)) throw error;
    process.stderr.write(`Error! ${error.message}\n`);
    return 1;
  }
}

async function get(args: string[]): Promise<number> {
  const parsed = commandFlags(
    args,
    { recurse: { kind: 'bool', usage: '' }, detailed: { kind: 'bool', usage: '' }, keys: { kind: 'bool', usage: '' } },
    usage,
  );
  if (!parsed) return 1;
  const key = parsed.rest[0] ?? '';
  const recurse = parsed.values['recurse'] === true;
  if (!key && !recurse) {
    process.stderr.write('Error! Missing KEY argument\n');
    return 1;
  }
  const r = await request(parsed.values, 'GET', `/v1/kv/${keyPath(key)}${recurse ? '?recurse' : ''}`);
  if (r.status === 404) {
    if (recurse) return 0;
    process.stderr.write(`Error! No key exists at: ${key}\n`);
    return 1;
  }
  if (r.status !== 200) {
    process.stderr.write(`Error querying Conclave agent: ${r.text.trim() || r.status}\n`);
    return 1;
  }
  // Flags above 2^53 must print digit for digit: long integers stay exact.
  const entries = parseJsonExact(r.text) as KvEntry[];
  let out = '';
  for (const e of entries) {
    if (parsed.values['detailed']) {
      out += `CreateIndex      ${e.CreateIndex}\nFlags            ${e.Flags}\nKey              ${e.Key}\nLockIndex        ${e.LockIndex}\nModifyIndex      ${e.ModifyIndex}\nSession          ${e.Session ?? '-'}\nValue            ${decodeValue(e.Value)}\n`;
      if (recurse) out += '\n';
    } else out += recurse ? `${e.Key}:${decodeValue(e.Value)}\n` : `${decodeValue(e.Value)}\n`;
  }
  process.stdout.write(out);
  return 0;
}

async function put(args: string[]): Promise<number> {
  const parsed = commandFlags(
    args,
    {
      cas: { kind: 'bool', usage: '' },
      'modify-index': { kind: 'int', usage: '' },
      flags: { kind: 'string', usage: '' },
    },
    usage,
  );
  if (!parsed) return 1;
  // Flags are a uint64: kept as text, so Go's lock flag (3304740253564472344) is not rounded.
  const flagsText = parsed.values['flags'] as string | undefined;
  if (flagsText !== undefined && parseKvFlags(flagsText) === undefined) {
    process.stderr.write(`invalid value "${flagsText}" for flag -flags: not an unsigned 64-bit integer\n`);
    return 1;
  }
  const [key, rawValue] = parsed.rest;
  if (!key) {
    process.stderr.write('Error! Missing KEY argument\n');
    return 1;
  }
  let value: Buffer;
  if (rawValue === undefined) value = Buffer.alloc(0);
  else if (rawValue === '-') value = fs.readFileSync(0);
  else if (rawValue.startsWith('@')) value = fs.readFileSync(rawValue.slice(1));
  else value = Buffer.from(rawValue);
  const query = new URLSearchParams();
  if (flagsText !== undefined) query.set('flags', String(parseKvFlags(flagsText)));
  const cas = parsed.values['cas'] === true;
  if (cas) {
    if (parsed.values['modify-index'] === undefined) {
      process.stderr.write('Must specify -modify-index with -cas!\n');
      return 1;
    }
    query.set('cas', String(parsed.values['modify-index']));
  }
  const q = query.toString();
  const r = await request(parsed.values, 'PUT', `/v1/kv/${keyPath(key)}${q ? `?${q}` : ''}`, value);
  if (r.status !== 200) {
    process.stderr.write(`Error! Failed writing data: ${r.text.trim() || r.status}\n`);
    return 1;
  }
  if (r.text.trim() !== 'true') {
    process.stderr.write(`Error! Did not write to ${key}: CAS failed\n`);
    return 1;
  }
  process.stdout.write(`Success! Data written to: ${key}\n`);
  return 0;
}

async function del(args: string[]): Promise<number> {
  const parsed = commandFlags(
    args,
    {
      recurse: { kind: 'bool', usage: '' },
      cas: { kind: 'bool', usage: '' },
      'modify-index': { kind: 'int', usage: '' },
    },
    usage,
  );
  if (!parsed) return 1;
  const key = parsed.rest[0] ?? '';
  const recurse = parsed.values['recurse'] === true;
  if (!key && !recurse) {
    process.stderr.write('Error! Missing KEY argument\n');
    return 1;
  }
  const cas = parsed.values['cas'] === true;
  if (cas && recurse) {
    process.stderr.write('Cannot specify both -cas and -recurse!\n');
    return 1;
  }
  if (cas && parsed.values['modify-index'] === undefined) {
    process.stderr.write('Must specify -modify-index with -cas!\n');
    return 1;
  }
  const q = recurse ? '?recurse' : cas ? `?cas=${parsed.values['modify-index']}` : '';
  const r = await request(parsed.values, 'DELETE', `/v1/kv/${keyPath(key)}${q}`);
  if (r.status !== 200) {
    process.stderr.write(`Error! Failed deleting data: ${r.text.trim() || r.status}\n`);
    return 1;
  }
  if (r.text.trim() !== 'true') {
    process.stderr.write(`Error! Did not delete key ${key}: CAS failed\n`);
    return 1;
  }
  process.stdout.write(recurse ? `Success! Deleted keys with prefix: ${key}\n` : `Success! Deleted key: ${key}\n`);
  return 0;
}
