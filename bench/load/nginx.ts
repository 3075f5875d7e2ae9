// nginx as the named peer of the gateway benchmarks: in the foreground, one worker (the
// gateway is one process too), keep-alive to the very replica sockets the gateway uses.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './server.ts';

export const NGINX = '/usr/sbin/nginx';

export interface RunningNginx {
  port: number;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** More of the `http` block (a proxy_cache_path, say); `{dir}` is nginx's own temporary folder. */
  http?: string;
  /** More of `location /` (proxy_cache directives, say). */
  location?: string;
  /** Locations before `location /`, whole. */
  locations?: string;
}

/** Exits the benchmark with one line when nginx is not installed. */
export function requireNginx(bench: string): void {
  if (existsSync(NGINX)) return;
  console.error(`${bench} needs nginx at ${NGINX} (apt-get install nginx)`);
  process.exit(1);
}

export async function startNginx(sockets: string[], options: NginxOptions = {}): Promise<RunningNginx> {
  const dir = await mkdtemp(join(tmpdir(), 'cleave-nginx-'));
  const port = await freePort();
  // The replicas' sockets sit in the supervisor's private (0700) folder: as root, nginx's
  // worker must stay root to reach them, as the gateway does.
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  const proxy = `
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;`;
  const config = `
${user}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  ${(options.http ?? '').replaceAll('{dir}', dir)}
  upstream api {
    least_conn;
${sockets.map((socket) => `    server unix:${socket};`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    ${(options.locations ?? '').replaceAll('{proxy}', proxy)}
    location / {
      ${proxy}
      ${options.location ?? ''}
    }
  }
}`;
  writeFileSync(join(dir, 'nginx.conf'), config);
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGQUIT');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let tries = 0; tries < 100; tries++) {
    if (existsSync(join(dir, 'nginx.pid'))) return { port, stop };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
  throw new Error('nginx did not start');
}
