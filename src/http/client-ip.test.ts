import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { TrustedProxies } from '../gateway/forwarded.ts';
import { clientIp } from './client-ip.ts';

function req(remoteAddress: string | undefined, forwardedFor?: string): IncomingMessage {
  return {
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  } as unknown as IncomingMessage;
}

describe('clientIp', () => {
  const none = new TrustedProxies();
  const lb = TrustedProxies.fromList('10.0.0.0/8');

  it('is the peer, whatever an untrusted peer claims', () => {
    assert.equal(clientIp(req('203.0.113.5', '1.2.3.4'), none), '203.0.113.5');
    assert.equal(clientIp(req('::ffff:203.0.113.5'), none), '203.0.113.5');
  });

  it('reads X-Forwarded-For from the right, past trusted hops, behind a trusted proxy', () => {
    assert.equal(clientIp(req('10.0.0.2', '1.2.3.4, 198.51.100.1, 10.0.0.9'), lb), '198.51.100.1');
    // A client that forged the leftmost entry gains nothing: the proxy appended the real one.
    assert.equal(clientIp(req('10.0.0.2', 'forged, 198.51.100.1'), lb), '198.51.100.1');
  });

  it('believes the gateway in front of a split replica (a unix socket peer)', () => {
    assert.equal(clientIp(req(undefined, '198.51.100.1'), none), '198.51.100.1');
  });
});
