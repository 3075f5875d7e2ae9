// `cleave export k8s`: an app's Kubernetes objects, made from the app itself. Each service is
// a Deployment of pods that each run `cleave start --only <service>` with one replica in their
// pool (CLEAVE_POOL_REPLICAS=1): Kubernetes, not cleave, scales the pods, from the service's
// `scale` (an HPA on CPU, or a KEDA ScaledObject that adds its tasks' JetStream backlog). A
// HTTPRoute per service lets the cluster's Gateway API gateway route each path straight to
// the pods of its service. Settings come from a ConfigMap, secrets from a Secret the user
// makes: none is ever written here.

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

export function k8sManifests(app: App, options: K8sExportOptions): K8sObject[] {
  const namespace = options.namespace;
  const port = options.port ?? 3000;
  const stopGraceMs = options.stopGraceMs ?? 10_000;
  const appName = dnsLabel(app.name);
  const { config, secrets } = settingsObjectsOf(app);
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
        LOG_LEVEL: 'info',
      },
    },
  ];
  for (const service of app.services) {
    const name = dnsLabel(`${app.name}-${service.name}`);
    const component = dnsLabel(service.name);
    const labels = labelsOf(appName, component);
    const selector = { matchLabels: selectorOf(labels) };
    const scale = replicasOf(service.scale, options.defaultMaxReplicas ?? 10);
    const health = { httpGet: { path: HEALTH_PATH, port: 'http' } };
    objects.push({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(name, component),
      spec: {
        replicas: scale.min,
        selector,
        template: {
          metadata: { labels },
          spec: {
            // The pre-stop wait, then the gateway's grace and the replicas' after it.
            terminationGracePeriodSeconds: PRE_STOP_SECONDS + Math.ceil((2 * stopGraceMs) / 1000) + 5,
            containers: [
              {
                name: component,
                image: options.image,
                command: ['npx', '--no-install', 'cleave', 'start', options.appPath, '--only', service.name],
                ports: [{ name: 'http', containerPort: port }],
                envFrom: [{ configMapRef: { name: config } }, { secretRef: { name: secrets } }],
                startupProbe: { ...health, periodSeconds: 2, failureThreshold: 30 },
                readinessProbe: { ...health, periodSeconds: 5, failureThreshold: 2 },
                livenessProbe: { ...health, periodSeconds: 10, failureThreshold: 3 },
                lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
                // A Node process is one core at most: its event-loop target is a share of it.
                resources: { requests: { cpu: '1', memory: '256Mi' } },
              },
            ],
          },
        },
      },
    });
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(name, component),
      spec: { selector: selectorOf(labels), ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    });
    const cpuPercent = Math.round(service.scale.target.eventLoop * 100);
    const behavior = { scaleDown: { stabilizationWindowSeconds: Math.ceil(service.scale.downAfterMs / 1000) } };
    if (service.tasks.size === 0) {
      objects.push({
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: meta(name, component),
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
          minReplicas: scale.min,
          maxReplicas: scale.max,
          metrics: [
            {
              type: 'Resource',
              resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: cpuPercent } },
            },
          ],
          behavior,
        },
      });
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
    objects.push({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta(name, component),
      spec: { maxUnavailable: 1, selector },
    });
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

/** The ConfigMap the export makes, and the Secret every pod reads, which the user makes. */
export function settingsObjectsOf(app: App): { config: string; secrets: string } {
  const appName = dnsLabel(app.name);
  return { config: `${appName}-config`, secrets: `${appName}-secrets` };
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
