/**
 * Log lines in Consul 0.6's style: `    2016/03/18 21:22:31 [INFO] raft: ...`, and `==> ` lines for the
 * agent's own milestones (banner, signals). Levels below the `-log-level` are dropped.
 */
import type { TraceLevel } from '../../core/types.js';

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
 * Rewrites the core's uniform sentences ("127.0.0.104:8301 became leader at term 2") into Consul's
 * log vocabulary ("raft: Node at 127.0.0.104:8300 [Leader] entering Leader state") for lines about
 * this node; other lines pass unchanged. Returns the level too (SWIM's member lines are handled
 * separately, as serf events, by the agent process).
 */
export function consulStyle(
  selfId: string,
  serverAddr: string,
  text: string,
  serfLanPort = 8301,
  serverPort = 8300,
): string {
  // "consul: adding server a1 (Addr: 127.0.0.104:8301)": Consul names a server by its RPC address.
  if (/^consul: (adding|removing) (LAN |WAN )?server /.test(text))
    return text.replace(new RegExp(`\\(Addr: ([^)]*):${serfLanPort}\\)`), `(Addr: $1:${serverPort})`);
  if (!text.startsWith(`${selfId} `)) return text;
  const rest = text.slice(selfId.length + 1);
  const role = /^became (leader|candidate|follower|learner) at term (\d+)/.exec(rest);
  if (role) {
    const name = role[1]![0]!.toUpperCase() + role[1]!.slice(1);
    return `raft: Node at ${serverAddr} [${name}] entering ${name} state (term ${role[2]})`;
  }
  if (/^(marked|learned of|refuted|reaped|dropped a malformed SWIM|swim )/.test(rest)) return `memberlist: ${rest}`;
  return `raft: ${rest}`;
}

export function isMembershipLine(selfId: string, text: string): boolean {
  return text.startsWith(`${selfId} `) && /^(marked|learned of|reaped) /.test(text.slice(selfId.length + 1));
}
