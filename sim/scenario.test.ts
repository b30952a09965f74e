/** Scenario files: the format parses, and every mistake is reported with file, line and what is wrong. */
import { describe, expect, it } from 'vitest';
import { loadScenarioText } from './run.js';
import { parseDurationMs, parsePercent, parseScenario, ScenarioError } from './scenario.js';

const good = `# Story line one.
# Story line two.
protocol broadcast
nodes 5
seed 9
set fanout 3
network latency=2ms..8ms loss=1% dup=0.5% reorder=1/20
duration safety=3s liveness=2s
nemesis swarm kinds=partition,crash every=250ms
at 1s partition n1 n2 | n3 n4 n5
at 2s heal   # trailing comment
expect liveness
`;

function problem(text: string): string {
  try {
    parseScenario(text, 'bad.txt');
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioError);
    return (error as Error).message;
  }
  throw new Error('expected a ScenarioError');
}

describe('scenario format', () => {
  it('parses every directive', () => {
    const s = parseScenario(good, 'scenarios/x.txt');
    expect(s.name).toBe('x');
    expect(s.story).toBe('Story line one.\nStory line two.');
    expect(s.nodes).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect(s.seed).toBe(9);
    expect(s.params).toEqual({ fanout: '3' });
    expect(s.network).toMatchObject({ latencyMsMin: 2, lossPercent: 1, duplicatePercent: 0.5, reorderPercent: 5 });
    expect(s.network.latencyMsTailMean).toBeCloseTo(2);
    expect(s.safetyMs).toBe(3000);
    expect(s.nemesis).toEqual({ mode: 'swarm', kinds: ['partition', 'crash'], everyMs: 250 });
    expect(s.timeline.map((e) => [e.atMs, e.action, e.args.length])).toEqual([
      [1000, 'partition', 6],
      [2000, 'heal', 0],
    ]);
    expect(s.expectations).toEqual([{ name: 'liveness', args: [], line: 12 }]);
  });

  it('names the file, the line and the problem', () => {
    expect(problem('protocol x\nnodes 3\nfrobnicate 1\n')).toBe(
      "bad.txt:3: unknown directive 'frobnicate' (protocol, nodes, seed, set, network, wan, duration, nemesis, stranger, buggify, at, expect)",
    );
    expect(problem('protocol x\nnodes 3\nat 1s crash n9\n')).toBe("bad.txt:3: crash: unknown node 'n9'");
    expect(problem('protocol x\nnodes 3\nnetwork loss=150%\n')).toMatch(
      /^bad.txt:3: network: loss=150% is not a chance/,
    );
    expect(problem('protocol x\nnodes 3\nat soon heal\n')).toMatch(/^bad.txt:3: at takes a time/);
    expect(problem('nodes 3\n')).toMatch(/missing `protocol NAME`/);
    expect(problem('protocol x\nnodes 3\nnemesis swarm kinds=meteor\n')).toMatch(/unknown fault kind 'meteor'/);
    expect(problem('protocol x\nnodes 3\nat 1s partition n1 n2\n')).toMatch(/needs groups separated by '\|'/);
    expect(problem('protocol x\nnodes 3\nstranger links=open rogue=n3\n')).toMatch(/rogue= needs links=authenticated/);
    expect(problem('protocol x\nnodes 3\nstranger links=authenticated rogue=n9\n')).toBe(
      'bad.txt:3: stranger: rogue=n9 is not a node of this scenario',
    );
  });

  it("reads the stranger's rogues (rogue=n2,n3), none by default", () => {
    const line = (extra: string) =>
      parseScenario(`protocol x\nnodes 3\nstranger links=authenticated${extra}\n`, 'r.txt');
    expect(line(' rogue=n2,n3').stranger?.rogues).toEqual(['n2', 'n3']);
    expect(line('').stranger?.rogues).toEqual([]);
  });

  it('checks protocol and parameters against the harness', async () => {
    await expect(loadScenarioText('protocol nope\nnodes 3\n', 'a.txt')).rejects.toThrow(
      /a.txt:1: unknown protocol 'nope'/,
    );
    await expect(loadScenarioText('protocol broadcast\nnodes 3\nset wobble 1\n', 'b.txt')).rejects.toThrow(
      /b.txt:3: unknown parameter 'wobble' for protocol broadcast/,
    );
    await expect(loadScenarioText('protocol broadcast\nnodes 3\nset fanout lots\n', 'c.txt')).rejects.toThrow(
      /c.txt:3: set fanout: 'lots' is not a non-negative integer/,
    );
  });

  it('parses durations and ratios', () => {
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('1.5s')).toBe(1500);
    expect(parseDurationMs('2m')).toBe(120_000);
    expect(parseDurationMs('-500ms')).toBe(-500);
    expect(parseDurationMs('5 s')).toBeNull();
    expect(parseDurationMs('0')).toBe(0);
    expect(parsePercent('5%')).toBe(5);
    expect(parsePercent('1/4')).toBe(25);
    expect(parsePercent('0.5')).toBe(50);
    expect(parsePercent('2')).toBeNull();
  });

  it('requires a unit on every duration (issue 16 §4: `duration safety=5` silently meant 5 ms)', () => {
    expect(parseDurationMs('5')).toBeNull();
    expect(parseDurationMs('500us')).toBe(0.5);
    const head = 'protocol x\nnodes 3\n';
    expect(problem(`${head}duration safety=5\n`)).toMatch(
      /'safety=5' is not key=DURATION \(a duration needs its unit: '5ms' or '5s'\)/,
    );
    expect(problem(`${head}at 1500 crash n1\n`)).toMatch(/a duration needs its unit: '1500ms' or '1500s'/);
    expect(problem(`${head}nemesis swarm every=200\n`)).toMatch(
      /every=200 is not a positive duration \(a duration needs/,
    );
    expect(problem(`${head}network latency=1..10\n`)).toMatch(/latency=1\.\.10 is not MIN\.\.MAX.*needs its unit/);
  });

  it('suggests the closest name for a misspelt directive, fault kind, action or parameter', async () => {
    const head = 'protocol x\nnodes 3\n';
    expect(problem(`${head}duraton safety=5s\n`)).toMatch(/unknown directive 'duraton' \(did you mean 'duration'\?\)/);
    expect(problem(`${head}nemesis swarm kinds=partiton\n`)).toMatch(
      /unknown fault kind 'partiton' \(did you mean 'partition'\?\)/,
    );
    expect(problem(`${head}duration safty=5s\n`)).toMatch(
      /unknown key 'safty' \(safety, liveness\) \(did you mean 'safety'\?\)/,
    );
    await expect(loadScenarioText('protocol raft\nnodes 3\nat 1s crsh n1\n', 'a.txt')).rejects.toThrow(
      /a.txt:3: unknown action 'crsh'.*\(did you mean 'crash'\?\)/,
    );
    await expect(loadScenarioText('protocol broadcast\nnodes 3\nset fanot 2\n', 'b.txt')).rejects.toThrow(
      /unknown parameter 'fanot' for protocol broadcast \(did you mean 'fanout'\?\)/,
    );
  });
});

describe('datacenters (issue 17)', () => {
  const twoDc = 'protocol agent\nnodes dc1:3+2 dc2:3+1\nwan latency=30ms..80ms loss=1%\n';

  it('`nodes dc1:3+2 dc2:3+1` numbers the nodes across DCs, servers first; `wan` gives the WAN links', () => {
    const s = parseScenario(`${twoDc}at 5s isolate-dc dc2\nat 6s wan-oneway dc1 dc2\n`, 'dc.txt');
    expect(s.nodes).toEqual(['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9']);
    expect(s.datacenters).toEqual([
      { name: 'dc1', nodes: ['n1', 'n2', 'n3', 'n4', 'n5'], servers: 3 },
      { name: 'dc2', nodes: ['n6', 'n7', 'n8', 'n9'], servers: 3 },
    ]);
    expect(s.wan).toMatchObject({ latencyMsMin: 30, lossPercent: 1 });
    expect(s.network.latencyMsMin).toBe(1); // the LAN keeps its own
    expect(parseScenario('protocol agent\nnodes 3\n', 'one.txt')).toMatchObject({ datacenters: [], wan: null });
  });

  it('refuses bad DC lists, a WAN without DCs and WAN actions naming unknown DCs', () => {
    expect(problem('protocol agent\nnodes dc1:0+2 dc2:3\n')).toMatch(/dc1 needs at least one server/);
    expect(problem('protocol agent\nnodes dc1:3 dc1:3\n')).toMatch(/dc1 is listed twice/);
    expect(problem('protocol agent\nnodes dc1:x\n')).toMatch(/not DC:SERVERS\+CLIENTS/);
    expect(problem('protocol agent\nnodes 3\nwan latency=30ms..80ms\n')).toMatch(
      /:3: wan: the WAN links join datacenters/,
    );
    expect(problem(`${twoDc}at 1s isolate-dc dc3\n`)).toMatch(/isolate-dc: unknown datacenter 'dc3'/);
    expect(problem(`${twoDc}at 1s wan-oneway dc1 dc1\n`)).toMatch(/wan-oneway takes FROM_DC TO_DC/);
    expect(problem('protocol agent\nnodes 3\nat 1s isolate-dc dc1\n')).toMatch(/isolate-dc needs datacenters/);
  });
});
