// The Kubernetes export checked against the Kubernetes, Gateway API and KEDA schemas (the
// kubernetes-models validators), and for what each object must say about the app.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { defineApp } from '../app/app.ts';
import { defineService } from '../app/service.ts';
import { ExportError } from '../errors.ts';
import forum from '../../examples/forum/app.ts';
import { k8sManifests, type K8sObject } from './k8s.ts';
import { routeMatchesOf } from './route-matches.ts';

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  ConfigMap,
  Deployment,
  Service,
  HorizontalPodAutoscaler,
  PodDisruptionBudget,
  HTTPRoute,
  ScaledObject,
};

/** Throws, naming the object, when the schema of its kind refuses it. */
function validate(object: K8sObject): void {
  const Model = MODELS[object.kind];
  assert.ok(Model, `no schema for ${object.kind}`);
  try {
    new Model(object as never).validate();
  } catch (error) {
    throw new Error(`${object.kind} ${object.metadata.name}: ${(error as Error).message}`);
  }
}

const find = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  assert.ok(found, `${kind} ${name}`);
  return found;
};

/** The value at `path` (`spec.template.spec.containers.0`) inside plain object data. */
function at(value: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((current, key) => (current as Record<string, unknown> | undefined)?.[key], value);
}

const OPTIONS = { image: 'registry.example/forum:1', appPath: 'examples/forum' };

describe('cleave export k8s', () => {
  it('makes the forum as objects every schema accepts: per service a Deployment, Service, autoscaler, PDB and HTTPRoute', () => {
    const objects = k8sManifests(forum, { ...OPTIONS, namespace: 'shop' });
    for (const object of objects) validate(object);
    const kinds = (name: string) =>
      objects.filter((object) => object.metadata.name === name).map((object) => object.kind);
    assert.deepEqual(kinds('forum-posts'), [
      'Deployment',
      'Service',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'HTTPRoute',
    ]);
    // auth hashes passwords as tasks: KEDA scales it on CPU and on its JetStream backlog.
    assert.deepEqual(kinds('forum-auth'), [
      'Deployment',
      'Service',
      'ScaledObject',
      'PodDisruptionBudget',
      'HTTPRoute',
    ]);
    assert.ok(objects.every((object) => (object.metadata as { namespace?: string }).namespace === 'shop'));
    // The schemas do refuse what is wrong: the check above could fail.
    const posts = find(objects, 'Deployment', 'forum-posts');
    assert.throws(() => validate({ ...posts, spec: { ...(posts.spec as object), replicas: 'two' } }), /forum-posts/);
    const route = find(objects, 'HTTPRoute', 'forum-posts');
    assert.throws(() =>
      validate({ ...route, spec: { rules: [{ matches: [{ path: { type: 'Glob', value: '/' } }] }] } }),
    );
  });

  it('runs each service alone in its pods, one replica each, its settings and secrets by reference only', () => {
    const objects = k8sManifests(forum, OPTIONS);
    const posts = find(objects, 'Deployment', 'forum-posts');
    assert.equal(at(posts, 'spec.replicas'), 2, "posts' scale.min");
    const container = at(posts, 'spec.template.spec.containers.0');
    assert.deepEqual(at(container, 'command'), [
      'npx',
      '--no-install',
      'cleave',
      'start',
      'examples/forum',
      '--only',
      'posts',
    ]);
    assert.deepEqual(at(container, 'envFrom'), [
      { configMapRef: { name: 'forum-config' } },
      { secretRef: { name: 'forum-secrets' } },
    ]);
    assert.equal(at(container, 'readinessProbe.httpGet.path'), '/_cleave/health');
    assert.deepEqual(at(container, 'lifecycle.preStop'), { sleep: { seconds: 5 } });
    assert.equal(at(find(objects, 'ConfigMap', 'forum-config'), 'data.CLEAVE_POOL_REPLICAS'), '1');
    assert.ok(!objects.some((object) => object.kind === 'Secret'), 'no secret is ever written');
    assert.doesNotMatch(JSON.stringify(objects), /CLEAVE_SECRET|postgres:|redis:|nats:\/\//);
    const tasks = at(find(objects, 'ScaledObject', 'forum-auth'), 'spec.triggers.1.metadata');
    assert.equal(at(tasks, 'stream'), 'cleave_forum_tasks');
    assert.equal(at(tasks, 'consumer'), 'auth');
  });

  it("runs cleave's gateway as pods of its own, every pod a node with the cluster's certificate from a Secret", () => {
    const objects = k8sManifests(forum, OPTIONS);
    const kinds = objects.filter((object) => object.metadata.name === 'forum-gateway').map((object) => object.kind);
    assert.deepEqual(kinds, ['Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler']);
    const gateway = find(objects, 'Deployment', 'forum-gateway');
    assert.equal(at(gateway, 'spec.replicas'), 2);
    assert.deepEqual((at(gateway, 'spec.template.spec.containers.0.command') as string[]).slice(3), [
      'start',
      'examples/forum',
      '--gateway-only',
    ]);
    assert.deepEqual(at(find(objects, 'HorizontalPodAutoscaler', 'forum-gateway'), 'spec.minReplicas'), 2);
    for (const name of ['forum-gateway', 'forum-posts']) {
      const pod = at(find(objects, 'Deployment', name), 'spec.template.spec');
      assert.deepEqual(at(pod, 'volumes'), [
        { name: 'cluster', secret: { secretName: 'forum-cluster', defaultMode: 0o400 } },
      ]);
      assert.deepEqual(at(pod, 'containers.0.volumeMounts'), [
        { name: 'cluster', mountPath: '/etc/cleave/cluster', readOnly: true },
      ]);
      assert.deepEqual(at(pod, 'containers.0.env'), [
        { name: 'CLEAVE_NODE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ]);
      assert.deepEqual(at(pod, 'containers.0.ports.1'), { name: 'nodes', containerPort: 3001 });
      assert.deepEqual(at(pod, 'containers.0.ports.2'), { name: 'metrics', containerPort: 9464 });
    }
    const settings = at(find(objects, 'ConfigMap', 'forum-config'), 'data') as Record<string, string>;
    assert.equal(settings.CLEAVE_NODE_PORT, '3001');
    assert.equal(settings.CLEAVE_CLUSTER_KEY, '/etc/cleave/cluster/node.key');
    assert.equal(settings.CLEAVE_ADMIN_PORT, '9464', 'a fixed metrics port for the scraper');
    const named = defineService('gateway');
    named.get('/', () => null);
    assert.throws(
      () => k8sManifests(defineApp({ name: 'forum', services: [named] }), OPTIONS),
      (error: unknown) => error instanceof ExportError && /named like its gateway/.test(error.message),
    );
  });

  it('routes each path to the pods of its service, and no path of cleave’s own', () => {
    const objects = k8sManifests(forum, { ...OPTIONS, gateway: 'edge' });
    const route = find(objects, 'HTTPRoute', 'forum-posts');
    assert.deepEqual(at(route, 'spec.parentRefs'), [{ name: 'edge' }]);
    assert.deepEqual(at(route, 'spec.rules.0.backendRefs'), [{ name: 'forum-posts', port: 80 }]);
    assert.deepEqual((at(route, 'spec.rules.0.matches') as unknown[]).slice(0, 4), [
      { path: { type: 'Exact', value: '/api/posts' }, method: 'GET' },
      { path: { type: 'Exact', value: '/api/posts' }, method: 'HEAD' },
      { path: { type: 'PathPrefix', value: '/api/posts' }, method: 'GET' },
      { path: { type: 'PathPrefix', value: '/api/posts' }, method: 'HEAD' },
    ]);
    const chat = find(objects, 'HTTPRoute', 'forum-chat');
    assert.deepEqual(at(chat, 'spec.rules.0.matches'), [{ path: { type: 'Exact', value: '/ws/chat' }, method: 'GET' }]);
    assert.doesNotMatch(JSON.stringify(objects.filter((object) => object.kind === 'HTTPRoute')), /_cleave/);
  });

  it("follows a service's scale: replicas, autoscaler bounds, CPU target and scale-down window", () => {
    const make = (scale: Parameters<typeof defineService>[1]) => {
      const shop = defineService('shop', scale);
      shop.get('/items', () => []);
      return k8sManifests(defineApp({ name: 'Big Shop', services: [shop] }), OPTIONS);
    };
    const before = find(make({}), 'HorizontalPodAutoscaler', 'big-shop-shop');
    assert.deepEqual([at(before, 'spec.minReplicas'), at(before, 'spec.maxReplicas')], [1, 10]);
    const objects = make({ scale: { min: 3, max: 7, target: { eventLoop: 0.5 }, downAfterMs: 90_000 } });
    for (const object of objects) validate(object);
    assert.equal(at(find(objects, 'Deployment', 'big-shop-shop'), 'spec.replicas'), 3);
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'big-shop-shop');
    assert.deepEqual([at(hpa, 'spec.minReplicas'), at(hpa, 'spec.maxReplicas')], [3, 7]);
    assert.equal(at(hpa, 'spec.metrics.0.resource.target.averageUtilization'), 50);
    assert.equal(at(hpa, 'spec.behavior.scaleDown.stabilizationWindowSeconds'), 90);
  });

  it('turns route patterns into matches, and refuses two services claiming one path and method', () => {
    const files = defineService('files');
    files.get('/files/*', () => null);
    files.get('/files/:id/meta', () => null);
    files.static('/assets/', { dir: new URL('.', import.meta.url) });
    files.socket('/ws/files', {});
    assert.deepEqual(
      routeMatchesOf(defineApp({ name: 'a', services: [files] }))
        .get('files')
        ?.map((match) => `${match.method} ${match.path.type} ${match.path.value}`),
      [
        'GET PathPrefix /files',
        'HEAD PathPrefix /files',
        'GET PathPrefix /assets',
        'HEAD PathPrefix /assets',
        'GET Exact /ws/files',
      ],
    );
    const other = defineService('other');
    other.post('/files/:name', () => null);
    other.get('/files/:name', () => null);
    assert.throws(
      () => routeMatchesOf(defineApp({ name: 'a', services: [files, other] })),
      (error: unknown) => error instanceof ExportError && /files and other both claim GET \/files…/.test(error.message),
    );
  });
});
