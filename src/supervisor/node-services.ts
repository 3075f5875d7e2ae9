// Which of the app's services this node runs (`--only`, `--gateway-only`): their pools and
// task workers start here, and the rest is another node's. A node that runs only part of the
// app needs the nodes that run the rest, so it needs the NATS they share: calls, events and
// tasks reach the other services through it.

import type { App } from '../app/app.ts';
import type { RuntimeConfig } from '../config/runtime-config.ts';
import { ConfigError } from '../errors.ts';

interface Placement {
  CLEAVE_ONLY?: RuntimeConfig['CLEAVE_ONLY'];
  CLEAVE_GATEWAY_ONLY: boolean;
  CLEAVE_NATS_URL?: RuntimeConfig['CLEAVE_NATS_URL'];
}

/** The services to run here, in the app's order; every one unless the config says otherwise. */
export function servicesOfThisNode(app: App, config: Placement): App['services'] {
  const only = config.CLEAVE_ONLY;
  if (only === undefined && !config.CLEAVE_GATEWAY_ONLY) return app.services;
  if (only !== undefined && config.CLEAVE_GATEWAY_ONLY) {
    throw new ConfigError('CLEAVE_GATEWAY_ONLY', 'excludes CLEAVE_ONLY (--gateway-only runs no service, --only some)');
  }
  const known = new Set(app.services.map((service) => service.name));
  const unknown = (only ?? []).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new ConfigError(
      'CLEAVE_ONLY',
      `${unknown.join(', ')} is not a service of ${app.name} (its services: ${[...known].join(', ')})`,
    );
  }
  if (config.CLEAVE_NATS_URL === undefined) {
    throw new ConfigError(
      only ? 'CLEAVE_ONLY' : 'CLEAVE_GATEWAY_ONLY',
      `runs part of ${app.name} on this node: set CLEAVE_NATS_URL to the NATS shared with the nodes that run the rest`,
    );
  }
  const here = new Set(only ?? []);
  return app.services.filter((service) => here.has(service.name));
}
