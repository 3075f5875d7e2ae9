// `cleave export k8s`: an app's Kubernetes objects, made from the app itself. Each service is
// a Deployment of pods that each run `cleave start --only <service>` with one replica in their
// pool (CLEAVE_POOL_REPLICAS=1): Kubernetes, not cleave, scales the pods, from the service's
// `scale` (an HPA on CPU, or a KEDA ScaledObject that adds its tasks' JetStream backlog). A
// HTTPRoute per service lets the cluster's Gateway API gateway route each path straight to
// the pods of its service; or cleave's own gateway, a Deployment of `--gateway-only` pods,
// routes them to the pods' node listeners over mutual TLS (every pod has one, with the
// cluster's certificate from a Secret). Settings come from a ConfigMap, secrets from Secrets
// the user makes: none is ever written here.

import type { App } from '../app/app.ts';
import type { ScalePolicy } from '../app/service.ts';
import { ExportError } from '../errors.ts';
import { HEALTH_PATH } from '../http/health-endpoint.ts';
import { resourceName, taskConsumerName } from '../nats/subjects.ts';
import { routeMatchesOf, type RouteMatch } from './route-matches.ts';

export interface K8sExportOptions {
  /** The container image holding the app and cleave (`registry.example/forum:1`). */
  image: string;
  /** The app's folder as the image's working directory sees it: what `cleave start` is given. */
  appPath: string;
  namespace?: string;
  /** The Gateway API `Gateway` the HTTPRoutes attach to. @default the app's name */
  gateway?: string;
  /**
   * NATS's monitoring endpoint (`host:8222`), which KEDA's JetStream scaler reads.
   * @default `nats.<namespace>.svc.cluster.local:8222`
   */
  natsMonitoring?: string;
  /** A service whose `scale.max` is unbounded scales up to this many pods. @default 10 */
  defaultMaxReplicas?: number;
  /** The port every pod's gateway listens on. @default 3000 */
  port?: number;
  /** The port of every pod's node listener, for the gateway pods (mutual TLS). @default 3001 */
  nodePort?: number;
  /** How long a stopping pod finishes its requests (CLEAVE_STOP_GRACE_MS). @default 10000 */
  stopGraceMs?: number;
}

/** A Kubernetes object, as plain data. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string } & Record<string, unknown>;
} & Record<string, unknown>;

/** Seconds a pod waits before its SIGTERM, so endpoints stop sending it requests first. */
const PRE_STOP_SECONDS = 5;
/** A Gateway API rule holds at most this many matches, a route at most 16 rules. */
const MATCHES_PER_RULE = 64;
const RULES_PER_ROUTE = 16;
/** Tasks waiting per pod before KEDA adds one: each pod's one task worker takes one at a time. */
const TASK_LAG_PER_POD = 5;
/** Every pod's admin listener: Prometheus scrapes `/metrics` there (the pod template's annotations say so). */
const METRICS_PORT = 9464;
/** Where a pod finds the cluster's CA, its node certificate and key (`cleave cluster-cert --node k8s`). */
const CLUSTER_DIR = '/etc/cleave/cluster';
/** The gateway pods: two, so one can be replaced while the other serves. */
const GATEWAY_MIN_PODS = 2;
/** Gateway pods are added past this share of their core. */
const GATEWAY_CPU_PERCENT = 70;

export function k8sManifests(app: App, options: K8sExportOptions): K8sObject[] {
  const namespace = options.namespace;
  const port = options.port ?? 3000;
  const nodePort = options.nodePort ?? 3001;
  const stopGraceMs = options.stopGraceMs ?? 10_000;
  const appName = dnsLabel(app.name);
  const { config, secrets, cluster } = settingsObjectsOf(app);
  const meta = (name: string, component?: string) => ({
    name,
    ...(namespace ? { namespace } : {}),
    labels: labelsOf(appName, component),
  });
  const matches = routeMatchesOf(app);

  const objects: K8sObject[] = [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(config),
      data: {
        PORT: String(port),
        // Kubernetes scales the pods: each runs one replica per pool, and cleave's own
        // autoscaler stays off.
        CLEAVE_POOL_REPLICAS: '1',
        CLEAVE_AUTOSCALE: 'off',
        CLEAVE_STOP_GRACE_MS: String(stopGraceMs),
        // Every pod's node listener, and the certificates it and its gateway show.
        CLEAVE_NODE_PORT: String(nodePort),
        CLEAVE_CLUSTER_CA: `${CLUSTER_DIR}/ca.crt`,
        CLEAVE_CLUSTER_CERT: `${CLUSTER_DIR}/node.crt`,
        CLEAVE_CLUSTER_KEY: `${CLUSTER_DIR}/node.key`,
        // The admin listener on the pod's network for the cluster's Prometheus, on a fixed port.
        CLEAVE_ADMIN_HOST: '::',
        CLEAVE_ADMIN_PORT: String(METRICS_PORT),
        LOG_LEVEL: 'info',
      },
    },
  ];
  const health = { httpGet: { path: HEALTH_PATH, port: 'http' } };
  /** A Deployment of pods that each run `cleave start` with `args`, as one node of the app. */
  const deploymentOf = (name: string, component: string, replicas: number, args: string[]): K8sObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(name, component),
    spec: {
      replicas,
      selector: { matchLabels: selectorOf(labelsOf(appName, component)) },
      template: {
        metadata: {
          labels: labelsOf(appName, component),
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(METRICS_PORT),
            'prometheus.io/path': '/metrics',
          },
        },
        spec: {
          // The pre-stop wait, then the gateway's grace and the replicas' after it.
          terminationGracePeriodSeconds: PRE_STOP_SECONDS + Math.ceil((2 * stopGraceMs) / 1000) + 5,
          containers: [
            {
              name: component,
              image: options.image,
              command: ['npx', '--no-install', 'cleave', 'start', options.appPath, ...args],
              ports: [
                { name: 'http', containerPort: port },
                { name: 'nodes', containerPort: nodePort },
                { name: 'metrics', containerPort: METRICS_PORT },
              ],
              envFrom: [{ configMapRef: { name: config } }, { secretRef: { name: secrets } }],
              // A pod is a node: named as Kubernetes names it, holding the cluster's certificate.
              env: [{ name: 'CLEAVE_NODE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
              volumeMounts: [{ name: 'cluster', mountPath: CLUSTER_DIR, readOnly: true }],
              startupProbe: { ...health, periodSeconds: 2, failureThreshold: 30 },
              readinessProbe: { ...health, periodSeconds: 5, failureThreshold: 2 },
              livenessProbe: { ...health, periodSeconds: 10, failureThreshold: 3 },
              lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
              // A Node process is one core at most: its event-loop target is a share of it.
              resources: { requests: { cpu: '1', memory: '256Mi' } },
            },
          ],
          volumes: [{ name: 'cluster', secret: { secretName: cluster, defaultMode: 0o400 } }],
        },
      },
    },
  });
  /** The Service in front of a Deployment's pods. */
  const serviceOf = (name: string, component: string): K8sObject => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name, component),
    spec: {
      selector: selectorOf(labelsOf(appName, component)),
      ports: [{ name: 'http', port: 80, targetPort: 'http' }],
    },
  });
  /** One pod of the Deployment down at a time, for a drain or an upgrade of the cluster. */
  const budgetOf = (name: string, component: string): K8sObject => ({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(name, component),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorOf(labelsOf(appName, component)) } },
  });
  const hpaOf = (
    name: string,
    component: string,
    bounds: { min: number; max: number },
    cpuPercent: number,
    behavior?: object,
  ): K8sObject => ({
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(name, component),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: bounds.min,
      maxReplicas: bounds.max,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: cpuPercent } },
        },
      ],
      ...(behavior ? { behavior } : {}),
    },
  });

  // cleave's gateway as pods of its own, in front of every service's pods.
  const gateway = dnsLabel(`${app.name}-gateway`);
  objects.push(deploymentOf(gateway, 'gateway', GATEWAY_MIN_PODS, ['--gateway-only']));
  if (app.services.some((service) => dnsLabel(`${app.name}-${service.name}`) === gateway))
    throw new ExportError(`a service of ${app.name} is named like its gateway's pods, ${gateway}`);
  objects.push(serviceOf(gateway, 'gateway'), budgetOf(gateway, 'gateway'));
  objects.push(
    hpaOf(
      gateway,
      'gateway',
      { min: GATEWAY_MIN_PODS, max: Math.max(GATEWAY_MIN_PODS, options.defaultMaxReplicas ?? 10) },
      GATEWAY_CPU_PERCENT,
    ),
  );

  for (const service of app.services) {
    const name = dnsLabel(`${app.name}-${service.name}`);
    const component = dnsLabel(service.name);
    const scale = replicasOf(service.scale, options.defaultMaxReplicas ?? 10);
    objects.push(deploymentOf(name, component, scale.min, ['--only', service.name]));
    objects.push(serviceOf(name, component));
    const cpuPercent = Math.round(service.scale.target.eventLoop * 100);
    const behavior = { scaleDown: { stabilizationWindowSeconds: Math.ceil(service.scale.downAfterMs / 1000) } };
    if (service.tasks.size === 0) {
      objects.push(hpaOf(name, component, scale, cpuPercent, behavior));
    } else {
      // KEDA makes the HPA itself, from both triggers: one HPA per Deployment, never two.
      objects.push({
        apiVersion: 'keda.sh/v1alpha1',
        kind: 'ScaledObject',
        metadata: meta(name, component),
        spec: {
          scaleTargetRef: { name },
          minReplicaCount: scale.min,
          maxReplicaCount: scale.max,
          advanced: { horizontalPodAutoscalerConfig: { behavior } },
          triggers: [
            { type: 'cpu', metricType: 'Utilization', metadata: { value: String(cpuPercent) } },
            {
              type: 'nats-jetstream',
              metadata: {
                natsServerMonitoringEndpoint:
                  options.natsMonitoring ?? `nats.${namespace ?? 'default'}.svc.cluster.local:8222`,
                account: '$G',
                stream: resourceName(app.name, 'tasks'),
                consumer: taskConsumerName(service.name),
                lagThreshold: String(TASK_LAG_PER_POD),
              },
            },
          ],
        },
      });
    }
    objects.push(budgetOf(name, component));
    const serviceMatches = matches.get(service.name) ?? [];
    if (serviceMatches.length > 0) {
      objects.push({
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: meta(name, component),
        spec: {
          parentRefs: [{ name: options.gateway ?? appName }],
          rules: rulesOf(service.name, serviceMatches, name),
        },
      });
    }
  }
  return objects;
}

/**
 * The ConfigMap the export makes, and the Secrets every pod reads, which the user makes: the
 * settings' (`secrets`) and the cluster's certificate files (`cluster`).
 */
export function settingsObjectsOf(app: App): { config: string; secrets: string; cluster: string } {
  const appName = dnsLabel(app.name);
  return { config: `${appName}-config`, secrets: `${appName}-secrets`, cluster: `${appName}-cluster` };
}

function rulesOf(service: string, matches: RouteMatch[], backend: string): object[] {
  const rules: object[] = [];
  for (let start = 0; start < matches.length; start += MATCHES_PER_RULE) {
    rules.push({ matches: matches.slice(start, start + MATCHES_PER_RULE), backendRefs: [{ name: backend, port: 80 }] });
  }
  if (rules.length > RULES_PER_ROUTE) {
    throw new ExportError(
      `${service} has ${matches.length} routes; one HTTPRoute holds ${MATCHES_PER_RULE * RULES_PER_ROUTE}`,
    );
  }
  return rules;
}

function replicasOf(scale: ScalePolicy, defaultMax: number): { min: number; max: number } {
  const max = Number.isFinite(scale.max) ? scale.max : Math.max(defaultMax, scale.min);
  return { min: scale.min, max };
}

function labelsOf(app: string, component?: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': app,
    ...(component ? { 'app.kubernetes.io/component': component } : {}),
    'app.kubernetes.io/managed-by': 'cleave',
  };
}

/** What picks a service's pods: its name and component, not the managed-by mark. */
function selectorOf(labels: Record<string, string>): Record<string, string> {
  const { 'app.kubernetes.io/managed-by': _managedBy, ...selector } = labels;
  return selector;
}

/** A name Kubernetes accepts (RFC 1123 label): lowercase letters, digits and dashes, at most 63. */
export function dnsLabel(name: string): string {
  const label = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  if (label === '') throw new ExportError(`"${name}" has nothing Kubernetes accepts in a name`);
  return label;
}
