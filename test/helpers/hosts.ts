// Hosts on one machine, for tests of what crosses a network: each a Linux network namespace
// with an address of its own on a bridge, as machines on one LAN, the test runner being the
// bridge's own address (the "servers" host). Made by the test (root and iproute2's `ip` are
// needed), removed by it; names and addresses are per test process, so runs never meet.

import { execFileSync } from 'node:child_process';

export interface Host {
  /** The namespace: `ip netns exec <name>` runs a command on this host. */
  name: string;
  address: string;
  /** What a command is started under to run on this host. */
  prefix: readonly string[];
}

export interface Lan {
  /** This process's side: where the hosts reach the servers the test offers them. */
  serversAddress: string;
  hosts: Host[];
  remove(): void;
}

/** Why hosts can't be made here, or undefined when they can. */
export function whyNoHosts(): string | undefined {
  if (process.env.CLEAVE_TEST_HOSTS === 'off') return 'CLEAVE_TEST_HOSTS=off';
  if (process.platform !== 'linux') return 'network namespaces are Linux’s';
  if (process.getuid?.() !== 0) return 'making network namespaces needs root';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2’s `ip` is not installed';
  }
  return undefined;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeLan(count: number): Lan {
  // 10.231.<n>.0/24, <n> from this process: interface names must stay within 15 characters.
  const n = (process.pid % 200) + 20;
  const bridge = `clv${n}br`;
  const prefix = `10.231.${n}`;
  const hosts: Host[] = [];
  const remove = (): void => {
    for (const host of hosts) {
      try {
        ip('netns', 'delete', host.name);
      } catch {
        // already gone
      }
    }
    try {
      ip('link', 'delete', bridge);
    } catch {
      // already gone
    }
  };
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${prefix}.1/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (let index = 0; index < count; index++) {
      const name = `clv${n}h${index}`;
      const host: Host = { name, address: `${prefix}.${index + 2}`, prefix: ['ip', 'netns', 'exec', name] };
      ip('netns', 'add', name);
      hosts.push(host);
      ip('link', 'add', `clv${n}v${index}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name);
      ip('link', 'set', `clv${n}v${index}`, 'master', bridge, 'up');
      ip('-n', name, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0');
      ip('-n', name, 'link', 'set', 'eth0', 'up');
      // Each process of a node talks to the others of its node over its own loopback.
      ip('-n', name, 'link', 'set', 'lo', 'up');
    }
  } catch (error) {
    remove();
    throw error;
  }
  return { serversAddress: `${prefix}.1`, hosts, remove };
}
