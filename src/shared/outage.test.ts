import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Outage } from './outage.ts';

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
}

function recorded() {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  const at = (level: string) => (obj: object, msg: string) =>
    void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, log: { error: at('error'), info: at('info') } };
}

describe('Outage', () => {
  it('logs the error once per outage and one line when writes resume', () => {
    let now = 1000;
    const { lines, log } = recorded();
    const outage = new Outage(log, { file: '/data/log.jsonl' }, { now: () => now });
    outage.succeeded();
    assert.equal(lines.length, 0, 'nothing to say without an outage');

    for (let n = 0; n < 5; n++) outage.failed(enospc(), 2);
    now = 4000;
    outage.succeeded();
    outage.succeeded();

    assert.deepEqual(
      lines.map((line) => line.level),
      ['error', 'info'],
    );
    assert.equal(lines[0]!.obj.file, '/data/log.jsonl');
    assert.equal((lines[0]!.obj.err as NodeJS.ErrnoException).code, 'ENOSPC');
    assert.deepEqual(lines[1]!.obj, { file: '/data/log.jsonl', failedWrites: 10, outageMs: 3000 });
  });

  it('logs again when the reason changes, and after a new outage', () => {
    const { lines, log } = recorded();
    const outage = new Outage(log, {});
    outage.failed(enospc(), 1);
    outage.failed(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }), 1);
    outage.succeeded();
    outage.failed(enospc(), 1);

    assert.deepEqual(
      lines.map((line) => [line.level, (line.obj.err as NodeJS.ErrnoException | undefined)?.code]),
      [
        ['error', 'ENOSPC'],
        ['error', 'EIO'],
        ['info', undefined],
        ['error', 'ENOSPC'],
      ],
    );
  });
});
