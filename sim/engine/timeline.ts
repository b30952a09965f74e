/**
 * The scenario's timeline: `at 2s partition n1 | n2 n3` and friends. Built-in fault actions go to
 * the fault API; anything else is the harness's (`propose`, `add`, `remove`, …), which answers with
 * a problem string when it does not know the action.
 */
import type { NodeId } from '../../core/types.js';
import type { FaultApi, NetworkKnobs } from '../harness.js';
import type { TimelineEvent } from '../scenario.js';
import { networkFromArgs, parseBytes, parseDurationMs } from '../scenario.js';

/** What the timeline needs from the simulation. */
export interface TimelineHost {
  readonly nowMs: number;
  readonly nodeIds: readonly NodeId[];
  readonly faults: FaultApi;
  readonly networkNow: NetworkKnobs;
  bridge(bridgeNode: NodeId, sides: NodeId[][]): void;
  ring(): void;
  cutWan(fromDc: string, toDc: string): void;
  isolateDatacenter(dc: string): void;
  /** The harness's own actions; returns a problem, or null when done. */
  harnessAction(action: string, args: readonly string[]): string | null;
}

export function runTimelineEvent(host: TimelineHost, event: TimelineEvent): string | null {
  const f = host.faults;
  const a = event.args;
  const groups = () => splitGroups(a);
  switch (event.action) {
    case 'partition':
      f.partition(groups());
      return null;
    case 'oneway':
      f.blockOneWay(a[0]!, a[1]!);
      return null;
    case 'bridge':
      host.bridge(
        a[0]!,
        groups().map((g) => g.filter((id) => id !== a[0])),
      );
      return null;
    case 'ring':
      host.ring();
      return null;
    case 'datagram-cut':
      f.cutDatagrams(a[0]!, true);
      return null;
    case 'stream-cut':
      f.cutStreams(a[0]!, true);
      return null;
    case 'reset': {
      const oneWay = a[a.length - 1] === 'oneway';
      const nodes = oneWay ? a.slice(0, -1) : a;
      f.resetStreams(nodes[0]!, nodes[1] ?? null, oneWay);
      return null;
    }
    case 'heal':
      f.heal();
      return null;
    case 'isolate-dc':
      host.isolateDatacenter(a[0]!);
      return null;
    case 'wan-oneway':
      host.cutWan(a[0]!, a[1]!);
      return null;
    case 'crash':
      f.crash(a[0]!);
      return null;
    case 'restart':
      f.restart(a[0]!);
      return null;
    case 'pause':
      f.pause(a[0]!);
      return null;
    case 'resume':
      f.resume(a[0]!);
      return null;
    case 'busy':
    case 'idle':
      for (const id of a[0] === 'all' ? host.nodeIds : a) f.setBusy(id, event.action === 'busy');
      return null;
    case 'jump':
      f.jumpClock(a[0]!, parseDurationMs(a[1]!)!);
      return null;
    case 'drift':
      f.setDrift(a[0]!, Number(a[1]));
      return null;
    case 'clog':
      f.clog(a[0]!, a[1]!, host.nowMs + parseDurationMs(a[2]!)!);
      return null;
    case 'full':
      f.fillDisk(a[0]!, parseBytes(a[1]!)!);
      return null;
    case 'free':
      f.freeDisk(a[0]!);
      return null;
    case 'replace-disk':
      f.replaceDisk(a[0]!, a[1] === 'keep-identity');
      return null;
    case 'network':
      f.setNetwork(networkFromArgs(host.networkNow, a));
      return null;
    default:
      return host.harnessAction(event.action, event.args);
  }
}

function splitGroups(args: readonly string[]): NodeId[][] {
  const groups: NodeId[][] = [[]];
  for (const a of args) {
    if (a === '|') groups.push([]);
    else groups[groups.length - 1]!.push(a);
  }
  return groups.filter((g) => g.length > 0);
}
