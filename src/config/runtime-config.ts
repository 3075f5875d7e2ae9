// cleave's own settings, read from the environment like the app's.

import { loadConfig } from './config.ts';
import { env } from './env.ts';

export const runtimeConfigSpec = {
  PORT: env.port({ default: 3000 }),
  HOST: env.string({ default: '::' }),
  LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  /** One JSON line per request on stdout; off when something in front already logs them. */
  CLEAVE_ACCESS_LOG: env.bool({ default: true }),
  /**
   * Where service data lives: memory (lost on stop), file (append log + snapshot), or a
   * PostgreSQL URL (`postgres://user:password@host/database`) that every node shares.
   */
  CLEAVE_STORE: env.choiceOrUrl(['memory', 'file'], ['postgres:', 'postgresql:'], { default: 'memory' }),
  /** PostgreSQL store: most connections each process holds. */
  CLEAVE_STORE_POOL_MAX: env.int({ default: 4, min: 1, max: 1000 }),
  /** PostgreSQL store: a statement or a connection attempt taking longer is answered 503. */
  CLEAVE_STORE_TIMEOUT_MS: env.int({ default: 5000, min: 10, max: 600_000 }),
  /**
   * NATS every node shares for events (`nats://[user:password@]host:4222`; several,
   * comma-separated, for a cluster). Unset: events stay on this node.
   */
  CLEAVE_NATS_URL: env.optionalServerUrl(['nats:', 'tls:'], { list: true }),
  /**
   * Redis every node shares for rate-limit counters and cron locks
   * (`redis://[:password@]host:6379[/db]`, `rediss://` for TLS). Unset: kept by this node.
   */
  CLEAVE_REDIS_URL: env.optionalServerUrl(['redis:', 'rediss:']),
  /** Redis: a call taking longer is given up (a count then falls back to this process's). */
  CLEAVE_REDIS_TIMEOUT_MS: env.int({ default: 500, min: 10, max: 60_000 }),
  CLEAVE_DATA_DIR: env.string({ default: '.cleave/data' }),
  /**
   * Who loads a TypeScript app: `auto` is Node's own type stripping where Node has it and
   * the app's tsconfig says its code runs so (runtime/typescript.ts), else tsx.
   */
  CLEAVE_TYPESCRIPT: env.oneOf(['auto', 'node', 'tsx'], { default: 'auto' }),
  /** Signs sessions and bearer tokens; at least 32 characters. Unset: random per start. */
  CLEAVE_SECRET: env.optional({ minLength: 32 }),
  /** Upper bound of task worker threads. Unset: the machine's cores. */
  CLEAVE_TASK_THREADS: env.int({ default: 0, min: 0, max: 1024 }),
  /** Tasks that may wait for a worker, per process (dev) or per service (split); past it, 503. */
  CLEAVE_TASK_QUEUE_MAX: env.int({ default: 1000, min: 1, max: 1_000_000 }),
  /**
   * Split mode: most task worker processes of all services together. 0 = one less than the
   * cores (at least 1): CPU-bound work on every core would slow every request.
   */
  CLEAVE_TASK_WORKERS: env.int({ default: 0, min: 0, max: 10_000 }),
  /** Split mode: the scheduling priority (nice) of task worker processes, so requests come first. */
  CLEAVE_TASK_NICE: env.int({ default: 10, min: 0, max: 19 }),
  /**
   * Split with NATS: a task's worker must report within this (it does, every third of it,
   * while it runs) or the task is delivered again, on any node.
   */
  CLEAVE_TASK_ACK_WAIT_MS: env.int({ default: 30_000, min: 100, max: 3_600_000 }),
  /** Split with NATS: deliveries of a task whose worker dies before it goes to the dead-task subject. */
  CLEAVE_TASK_MAX_DELIVERIES: env.int({ default: 3, min: 1, max: 100 }),
  /** Comma-separated peer IPs whose X-Forwarded-* headers the gateway believes. */
  CLEAVE_TRUSTED_PROXIES: env.optional(),
  /**
   * The admin listener (`/metrics`): operators' and their tools', never the public port's.
   * Port 0 takes any free one (`cleave status` names it); 127.0.0.1 keeps it on this machine.
   */
  CLEAVE_ADMIN_HOST: env.string({ default: '127.0.0.1' }),
  CLEAVE_ADMIN_PORT: env.int({ default: 0, min: 0, max: 65535 }),
  /** Split mode: how often the gateway probes each replica's health. */
  CLEAVE_HEALTH_INTERVAL_MS: env.int({ default: 1000, min: 10, max: 600_000 }),
  /** Split mode: a probe not answered within this takes the replica out of its pool. */
  CLEAVE_HEALTH_TIMEOUT_MS: env.int({ default: 1000, min: 10, max: 600_000 }),
  /** Split mode: a replica unhealthy this long is killed and restarted; 0 never restarts one. */
  CLEAVE_UNHEALTHY_RESTART_MS: env.int({ default: 10_000, min: 0, max: 3_600_000 }),
  /**
   * Split across nodes: the services this node runs (their pools and task workers; what
   * `--only` sets). The others run on nodes that share CLEAVE_NATS_URL. Unset: every one.
   */
  CLEAVE_ONLY: env.optionalNames(),
  /**
   * Split across nodes: this node's name among the others (`cleave status`, sticky cookies
   * across nodes); unique among live nodes, e.g. a Kubernetes pod's name. Unset: the host's
   * name and a random suffix, new at each start.
   */
  CLEAVE_NODE_ID: env.optionalName(),
  /**
   * Split across nodes: the port of this node's listener for other nodes' gateways, mutual TLS
   * with the cluster's certificates (below). Unset: none.
   */
  CLEAVE_NODE_PORT: env.optionalInt({ min: 0, max: 65535 }),
  /** The cluster's CA certificate (PEM file, `cleave cluster-cert`): what a node's peer must show. */
  CLEAVE_CLUSTER_CA: env.optional(),
  /** This node's certificate and key (PEM files), signed by the cluster's CA. */
  CLEAVE_CLUSTER_CERT: env.optional(),
  CLEAVE_CLUSTER_KEY: env.optional(),
  /** Split across nodes: this node runs the gateway and no service (what `--gateway-only` sets). */
  CLEAVE_GATEWAY_ONLY: env.bool({ default: false }),
  /**
   * Split mode: every request pool of this node runs exactly this many replicas, whatever the
   * app's `scale` says: for a platform that scales the nodes (Kubernetes: a pod per replica,
   * `cleave export k8s`). Unset: the app's scale.
   */
  CLEAVE_POOL_REPLICAS: env.optionalInt({ min: 1, max: 10_000 }),
  /** Split mode: pools grow and shrink with their load; off keeps each at its min. */
  CLEAVE_AUTOSCALE: env.bool({ default: true }),
  /** Split mode: most replicas all pools together may run; 0 = the sum of the mins plus one per core. */
  CLEAVE_REPLICA_BUDGET: env.int({ default: 0, min: 0, max: 100_000 }),
  /** Split mode: overrides every pool's scale-down stabilisation window. */
  CLEAVE_SCALE_DOWN_AFTER_MS: env.optionalInt({ min: 0, max: 86_400_000 }),
  /** Split mode: the autoscaler's control-loop period. */
  CLEAVE_SCALE_INTERVAL_MS: env.int({ default: 100, min: 10, max: 60_000 }),
  /** Rate limits as the app declares them; off switches every one of them off (load tests). */
  CLEAVE_RATE_LIMIT: env.bool({ default: true }),
  /** Overrides the app's default anonymous tier: `<requests>/<seconds>`, e.g. 300/60. */
  CLEAVE_RATE_LIMIT_ANONYMOUS: env.optional(),
  /** Overrides the app's default authenticated tier: `<requests>/<seconds>`. */
  CLEAVE_RATE_LIMIT_AUTHENTICATED: env.optional(),
  /** The response cache at the edge (routes' `cache` option, Cache-Control max-age); off stores nothing. */
  CLEAVE_CACHE: env.bool({ default: true }),
  /** Memory the response cache may hold, bodies and headers together. */
  CLEAVE_CACHE_MAX_BYTES: env.int({ default: 64 * 1024 * 1024, min: 1024, max: 2 ** 40 }),
  /** Larger responses are relayed but not stored. */
  CLEAVE_CACHE_MAX_ENTRY_BYTES: env.int({ default: 1024 * 1024, min: 1, max: 2 ** 40 }),
  /** HTTPS on PORT with a self-signed certificate for localhost (what `--tls` sets). */
  CLEAVE_TLS: env.bool({ default: false }),
  /** HTTPS on PORT with this certificate (PEM file); CLEAVE_TLS_KEY names its key. */
  CLEAVE_TLS_CERT: env.optional(),
  CLEAVE_TLS_KEY: env.optional(),
  /** Where the self-signed certificate is kept between starts. */
  CLEAVE_TLS_DIR: env.string({ default: '.cleave/tls' }),
  /** Strict-Transport-Security on every HTTPS answer (one year). */
  CLEAVE_HSTS: env.bool({ default: false }),
  /** Also listen for plain HTTP on this port and redirect (308) every request to HTTPS. */
  CLEAVE_HTTP_REDIRECT_PORT: env.optionalInt({ min: 0, max: 65535 }),
  /** A client must send its whole header section within this (slowloris bound): else 408. */
  CLEAVE_HEADERS_TIMEOUT_MS: env.int({ default: 10_000, min: 100, max: 600_000 }),
  /** A client must send its whole request, body included, within this: else 408. */
  CLEAVE_REQUEST_TIMEOUT_MS: env.int({ default: 30_000, min: 100, max: 3_600_000 }),
  /** Longest a graceful stop waits for in-flight requests. */
  CLEAVE_STOP_GRACE_MS: env.int({ default: 10_000, min: 0, max: 600_000 }),
};

export type RuntimeConfig = ReturnType<typeof loadRuntimeConfig>;

export function loadRuntimeConfig(source: NodeJS.ProcessEnv = process.env) {
  return loadConfig(runtimeConfigSpec, source);
}
