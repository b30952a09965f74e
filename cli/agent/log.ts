/**
 * Log lines in Consul 0.6's style: `    2016/03/18 21:22:31 [INFO] raft: ...`, and `==> ` lines for the
 * agent's own milestones (banner, signals). Levels below the `-log-level` are dropped.
 */
import { traceNode, traceText, type TraceEvent, type TraceLevel } from '../../core/trace.js';

const rank = { trace: 0, debug: 1, info: 2, warn: 3, err: 4 } as const;
const label: Record<TraceLevel, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERR' };
const levelRank: Record<TraceLevel, number> = { debug: 1, info: 2, warn: 3, error: 4 };

export type AgentLog = ((level: TraceLevel, text: string) => void) & { banner(text: string): void };

export function makeLog(
  minLevel: keyof typeof rank,
  write: (line: string) => void = (l) => process.stdout.write(l),
): AgentLog {
  const min = rank[minLevel];
  const log = ((level: TraceLevel, text: string) => {
    if (levelRank[level] < min) return;
    write(`    ${timestamp(new Date())} [${label[level]}] ${text}\n`);
  }) as AgentLog;
  log.banner = (text: string) => write(`==> ${text}\n`);
  return log;
}

function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * Renders a core trace event in Consul's log vocabulary: for events about this node, "raft: Node at
 * 127.0.0.104:8300 [Leader] entering Leader state (term 2)" for a role change, "memberlist: ..." for
 * SWIM's, "raft: ..." for Raft's other events; a server added or removed is named by its RPC address,
 * as Consul does; every other event is its own sentence (core/trace.ts).
 */
export function consulStyle(
  selfId: string,
  serverAddr: string,
  event: TraceEvent,
  serfLanPort = 8301,
  serverPort = 8300,
): string {
  if (event.type === 'consul.server' || event.type === 'consul.wanServer') {
    const suffix = `:${serfLanPort}`;
    const addr = event.addr.endsWith(suffix) ? `${event.addr.slice(0, -suffix.length)}:${serverPort}` : event.addr;
    return traceText({ ...event, addr });
  }
  const text = traceText(event);
  if (traceNode(event) !== selfId || !text.startsWith(`${selfId} `)) return text;
  if (event.type === 'raft.becameLeader' || event.type === 'raft.becameCandidate') {
    const name = event.type === 'raft.becameLeader' ? 'Leader' : 'Candidate';
    return `raft: Node at ${serverAddr} [${name}] entering ${name} state (term ${event.term})`;
  }
  const rest = text.slice(selfId.length + 1);
  return event.type.startsWith('swim.') ? `memberlist: ${rest}` : `raft: ${rest}`;
}

/** Did this node's view of a member change (the agent then fires serf member events)? */
export function isMembershipEvent(selfId: string, event: TraceEvent): boolean {
  return (
    (event.type === 'swim.marked' || event.type === 'swim.learned' || event.type === 'swim.reaped') &&
    event.node === selfId
  );
}
