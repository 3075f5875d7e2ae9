// SIGTERM under POST load (issue 12, item 3): every request a client sent is answered, or
// its connection was refused outright (nothing reached the app, so the client may retry it);
// never a reset mid-request. Keep-alive clients are the hard case: a connection that looks
// idle to the server may be carrying the client's next request.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { startCleave } from '../helpers/spawn-cleave.ts';
import { until } from '../helpers/wait.ts';

const CLIENTS = 16;

async function stopUnderLoad(
  mode: 'start' | 'dev',
): Promise<{ exitCode: number | null; outcomes: Map<string, number> }> {
  const app = await startCleave([mode, 'test/fixtures/replicated'], { CLEAVE_RATE_LIMIT: 'off' });
  const agent = new Agent({ connections: CLIENTS });
  const outcomes = new Map<string, number>();
  const count = (outcome: string) => outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  // Each client writes until its connection is refused, which is how a stopped server says so.
  const client = async (id: number): Promise<void> => {
    for (let sequence = 0; sequence < 100_000; sequence++) {
      try {
        const res = await request(`${app.url}/kv/client-${id}`, {
          method: 'PUT',
          dispatcher: agent,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ sequence }),
        });
        await res.body.text();
        count(String(res.statusCode));
      } catch (error) {
        const { code, cause } = error as { code?: string; cause?: { code?: string } };
        const outcome = code ?? cause?.code ?? String(error);
        count(outcome);
        if (outcome === 'ECONNREFUSED') return;
      }
    }
  };
  const clients = Array.from({ length: CLIENTS }, (_, id) => client(id));
  await until(() => ((outcomes.get('200') ?? 0) >= 200 ? true : undefined), 10_000, 'the load under way');
  const exitCode = await app.stop('SIGTERM');
  await Promise.all(clients);
  await agent.close();
  return { exitCode, outcomes };
}

for (const mode of ['start', 'dev'] as const) {
  describe(`graceful stop under POST load (cleave ${mode})`, { timeout: 90_000 }, () => {
    it('answers every request it read, refuses the rest, and resets none', async () => {
      for (let round = 0; round < 3; round++) {
        const { exitCode, outcomes } = await stopUnderLoad(mode);
        assert.equal(exitCode, 0);
        const unexpected = [...outcomes].filter(([outcome]) => outcome !== '200' && outcome !== 'ECONNREFUSED');
        assert.deepEqual(unexpected, [], `round ${round}: ${JSON.stringify(Object.fromEntries(outcomes))}`);
        assert.equal(outcomes.get('ECONNREFUSED'), CLIENTS, 'every client ends refused');
      }
    });
  });
}
