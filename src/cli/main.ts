// The `cleave` command. Errors print as one line: `cleave: CODE message`.

import { parseArgs } from 'node:util';
import { CleaveError, UsageError } from '../errors.ts';
import { makeClusterCertificates } from '../cluster/certificates.ts';
import { dev } from './dev.ts';
import { exportK8s } from './export.ts';
import { start } from './start.ts';
import { dashboardUrl, status } from './status.ts';

const USAGE = `usage: cleave <command> [options]

commands:
  dev <app-dir>     run every service of the app in one process
                    --port <n>   listen on n (default: $PORT or 3000)
                    --tls        HTTPS, with a self-signed certificate for localhost
  start <app-dir>   run the app split: a supervisor, a gateway process on PORT
                    and a pool of processes per service (--port, --tls as for dev)
                    --only <a,b>     run only these services here (and the gateway);
                                     the rest on nodes sharing CLEAVE_NATS_URL
                    --gateway-only   run only the gateway here
  export k8s <app-dir> --image <ref>
                    the app's Kubernetes objects as YAML on stdout: a Deployment,
                    Service, autoscaler, disruption budget and HTTPRoute per service
                    --out <dir>              one file per object instead
                    --namespace <ns>         --gateway <name> (the routes' Gateway)
                    --app-path <path>        the app folder inside the image (default: <app-dir>)
                    --nats-monitoring <h:p>  NATS monitoring, for task autoscaling
  cluster-cert      the cluster's certificate authority (made once) and a node's
                    certificate signed by it, for mutual TLS between nodes
                    --out <dir>      where (default: .cleave/cluster)
                    --node <name>    the node's name, its files' names (default: node)
  status            every pool of the running split app: replicas now / desired /
                    min / max, load, recent scaling decisions
                    --port <n>   the app serving n (default: $PORT or 3000)
                    --json       one JSON object with a pools array
  dashboard         the URL of the running split app's live dashboard (its admin
                    listener); cleave dev names its own in its start line
                    --port <n>   the app serving n (default: $PORT or 3000)
  help              show this text
  version           print cleave's version

environment: PORT, HOST, LOG_LEVEL, CLEAVE_ACCESS_LOG, CLEAVE_STORE (memory|file|postgres://…), CLEAVE_REDIS_URL,
             CLEAVE_NATS_URL, CLEAVE_ONLY, CLEAVE_GATEWAY_ONLY, CLEAVE_DATA_DIR,
             CLEAVE_SECRET, CLEAVE_TASK_THREADS, CLEAVE_STOP_GRACE_MS, CLEAVE_TRUSTED_PROXIES,
             CLEAVE_HEALTH_INTERVAL_MS, CLEAVE_HEALTH_TIMEOUT_MS, CLEAVE_UNHEALTHY_RESTART_MS,
             CLEAVE_TLS_CERT, CLEAVE_TLS_KEY, CLEAVE_HSTS, CLEAVE_HTTP_REDIRECT_PORT, CLEAVE_RATE_LIMIT…
             (README: the full table)`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'dev':
      await dev(appArgs('dev', rest));
      return;
    case 'start':
      await start(appArgs('start', rest));
      return;
    case 'export': {
      const [target, ...args] = rest;
      if (target !== 'k8s')
        throw new UsageError('cleave export knows one target: cleave export k8s <app-dir> --image <ref>');
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: {
          image: { type: 'string' },
          out: { type: 'string' },
          namespace: { type: 'string' },
          gateway: { type: 'string' },
          'app-path': { type: 'string' },
          'nats-monitoring': { type: 'string' },
        },
      });
      const appDir = positionals[0];
      if (!appDir || positionals.length > 1 || values.image === undefined) {
        throw new UsageError(
          'cleave export k8s takes one app folder and an image: cleave export k8s <app-dir> --image <ref>',
        );
      }
      await exportK8s({
        appDir,
        image: values.image,
        ...(values.out === undefined ? {} : { out: values.out }),
        ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
        ...(values.gateway === undefined ? {} : { gateway: values.gateway }),
        ...(values['app-path'] === undefined ? {} : { appPath: values['app-path'] }),
        ...(values['nats-monitoring'] === undefined ? {} : { natsMonitoring: values['nats-monitoring'] }),
      });
      return;
    }
    case 'cluster-cert': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { out: { type: 'string', default: '.cleave/cluster' }, node: { type: 'string', default: 'node' } },
      });
      if (positionals.length > 0)
        throw new UsageError('cleave cluster-cert takes no folder: cleave cluster-cert [--out dir] [--node name]');
      const files = await makeClusterCertificates(values.out, { node: values.node });
      console.log(
        `CA: ${files.ca} (its key beside it: keep it off the nodes)\nnode ${values.node}: ${files.cert}, ${files.key}`,
      );
      return;
    }
    case 'status': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { port: { type: 'string' }, json: { type: 'boolean', default: false } },
      });
      if (positionals.length > 0)
        throw new UsageError('cleave status takes no folder: cleave status [--port n] [--json]');
      await status({ json: values.json, ...(values.port === undefined ? {} : { port: parsePort(values.port) }) });
      return;
    }
    case 'dashboard': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { port: { type: 'string' } },
      });
      if (positionals.length > 0) throw new UsageError('cleave dashboard takes no folder: cleave dashboard [--port n]');
      console.log(await dashboardUrl(values.port === undefined ? {} : { port: parsePort(values.port) }));
      return;
    }
    case 'version':
    case '--version': {
      const { default: pkg } = await import('../../package.json', { with: { type: 'json' } });
      console.log(pkg.version);
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return;
    default:
      throw new UsageError(`unknown command "${command}"; run cleave help`);
  }
}

/** `<app-dir> [--port n] [--tls]`, the arguments dev and start share; start's `--only`, `--gateway-only`. */
function appArgs(command: string, args: string[]): { appDir: string; port?: number } {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      tls: { type: 'boolean', default: false },
      ...(command === 'start' ? { only: { type: 'string' }, 'gateway-only': { type: 'boolean', default: false } } : {}),
    },
  });
  const appDir = positionals[0];
  if (!appDir || positionals.length > 1) {
    throw new UsageError(`cleave ${command} takes one app folder: cleave ${command} <app-dir>`);
  }
  // An environment variable, so the gateway process that the supervisor forks sees it too.
  if (values.tls) process.env.CLEAVE_TLS = 'on';
  if (typeof values.only === 'string') process.env.CLEAVE_ONLY = values.only;
  if (values['gateway-only'] === true) process.env.CLEAVE_GATEWAY_ONLY = 'on';
  return { appDir, ...(values.port === undefined ? {} : { port: parsePort(values.port) }) };
}

function parsePort(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got "${raw}"`);
  return port;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof CleaveError) console.error(`cleave: ${error.code} ${error.message}`);
  else console.error(`cleave: ${error instanceof Error ? error.message : String(error)}`);
  // The stack helps whoever debugs cleave itself, not whoever runs an app.
  if (process.env.CLEAVE_DEBUG && error instanceof Error) console.error(error.stack);
  process.exit(1);
});
