// `cleave status [--port n] [--json]`: asks the supervisor serving the port (PORT, or 3000)
// for every pool and prints them, as a table or as one JSON object.

import { request } from 'node:http';
import { loadRuntimeConfig } from '../config/runtime-config.ts';
import { SupervisorUnavailableError } from '../errors.ts';
import { adminSocketPath } from '../supervisor/admin-server.ts';
import type { AppStatus } from '../supervisor/status.ts';

export interface StatusOptions {
  port?: number;
  json: boolean;
}

export async function status(options: StatusOptions): Promise<void> {
  const port = options.port ?? loadRuntimeConfig().PORT;
  const current = await fetchStatus(port);
  process.stdout.write(options.json ? `${JSON.stringify(current)}\n` : formatStatus(current));
}

/** `cleave dashboard`: where the running split app's dashboard is. */
export async function dashboardUrl(options: { port?: number }): Promise<string> {
  const port = options.port ?? loadRuntimeConfig().PORT;
  const current = await fetchStatus(port);
  if (current.admin === undefined) {
    throw new SupervisorUnavailableError(`the supervisor serving port ${port} has no admin listener yet`);
  }
  return `${current.admin}/dashboard`;
}

export function fetchStatus(port: number, timeoutMs = 3000): Promise<AppStatus> {
  const socketPath = adminSocketPath(port);
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/status', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as AppStatus);
        } catch {
          reject(new SupervisorUnavailableError(`the supervisor serving port ${port} answered something else`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error: NodeJS.ErrnoException) => {
      const why =
        error.code === 'ENOENT' || error.code === 'ECONNREFUSED' ? 'is not running' : `failed: ${error.message}`;
      reject(
        new SupervisorUnavailableError(`no cleave start serves port ${port}: its supervisor ${why} (${socketPath})`),
      );
    });
    req.end();
  });
}

export function formatStatus(current: AppStatus): string {
  const header = [
    'SERVICE',
    'KIND',
    'READY',
    'NOW',
    'DESIRED',
    'MIN',
    'MAX',
    'IN-FLIGHT',
    'LOOP',
    'QUEUE',
    'UP',
    'DOWN',
  ];
  const rows = current.pools.map((pool) => [
    pool.service,
    pool.kind,
    String(pool.replicas.ready),
    String(pool.replicas.now),
    String(pool.replicas.desired),
    String(pool.replicas.min),
    String(pool.replicas.max),
    String(pool.inFlight),
    pool.eventLoop.toFixed(2),
    String(pool.queueDepth),
    String(pool.scaled.up),
    String(pool.scaled.down),
  ]);
  const total = current.pools.reduce((sum, pool) => sum + pool.replicas.now, 0);
  let text =
    `${current.app}: port ${current.port ?? '?'}, supervisor pid ${current.pid}, ` +
    `${total} of ${current.replicaBudget} replicas, autoscale ${current.autoscale ? 'on' : 'off'}\n\n`;
  text += table(header, rows);
  if (current.admin) text += `\nmetrics: ${current.admin}/metrics\ndashboard: ${current.admin}/dashboard\n`;
  const cache = current.cache;
  if (cache) {
    const asked = cache.hits + cache.misses;
    const ratio = asked === 0 ? '-' : `${((100 * cache.hits) / asked).toFixed(1)}%`;
    text +=
      `\ncache: ${cache.entries} entries, ${(cache.bytes / 1024).toFixed(0)} KiB; ` +
      `${cache.hits} hits, ${cache.misses} misses (${ratio} hits), ${cache.coalesced} coalesced\n`;
  }
  text += formatNodes(current.nodes ?? []);
  const recent = current.decisions.slice(-10);
  text += recent.length === 0 ? '\nno scaling decisions yet\n' : '\nrecent scaling decisions:\n';
  for (const decision of recent) {
    text += `  ${decision.at.slice(11, 23)}  ${decision.service} ${decision.from} → ${decision.to}  ${decision.reason}\n`;
  }
  return text;
}

/** Every node of the app: this one (`*`), then those heard over NATS. */
function formatNodes(nodes: AppStatus['nodes']): string {
  const rows = nodes.map((node) => [
    `${node.self ? '*' : ' '} ${node.id}`,
    node.address,
    String(node.pid),
    node.pools
      .filter((pool) => pool.kind === 'requests')
      .map((pool) => `${pool.service} ${pool.ready}/${pool.now}`)
      .join(', '),
    node.self ? 'now' : `${((Date.now() - Date.parse(node.lastSeen)) / 1000).toFixed(1)} s ago`,
  ]);
  return `\n${nodes.length === 1 ? '1 node' : `${nodes.length} nodes`}:\n${table(['  NODE', 'ADDRESS', 'PID', 'REPLICAS READY/NOW', 'SEEN'], rows)}`;
}

/** Columns as wide as their widest cell, two spaces apart. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    `${cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd()}\n`;
  return line(header) + rows.map(line).join('');
}
