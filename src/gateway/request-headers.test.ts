import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { TrustedProxies } from './forwarded.ts';
import { stripResponseHopByHop } from './hop-by-hop.ts';
import { peersOf } from './peers.ts';
import { upstreamRequestHeaders } from './request-headers.ts';

/** Just what upstreamRequestHeaders reads of a request. */
function fakeRequest(rawHeaders: string[], remoteAddress = '198.51.100.9'): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    headers[name] =
      headers[name] === undefined ? (rawHeaders[i + 1] as string) : `${headers[name]}, ${rawHeaders[i + 1]}`;
  }
  return { rawHeaders, headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

function asObject(list: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < list.length; i += 2) (out[(list[i] as string).toLowerCase()] ??= []).push(list[i + 1] as string);
  return out;
}

const nobody = new TrustedProxies();

describe('upstreamRequestHeaders', () => {
  it("passes a trace context on from a trusted proxy only, and sends the gateway's own span when it traces", () => {
    const clientTrace = ['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'tracestate', 'a=1'];
    const fromClient = asObject(
      upstreamRequestHeaders(fakeRequest(clientTrace), { requestId: 'r1', trustedProxies: nobody }),
    );
    assert.equal(fromClient.traceparent, undefined, "a client's trace context is not believed");
    assert.equal(fromClient.tracestate, undefined);
    const proxy = TrustedProxies.fromList('198.51.100.0/24');
    const fromProxy = asObject(
      upstreamRequestHeaders(fakeRequest(clientTrace), { requestId: 'r1', trustedProxies: proxy }),
    );
    assert.deepEqual(fromProxy.traceparent, ['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']);
    assert.deepEqual(fromProxy.tracestate, ['a=1']);
    const gatewaySpan = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01', tracestate: 'a=1' };
    const traced = asObject(
      upstreamRequestHeaders(fakeRequest(clientTrace), { requestId: 'r1', trustedProxies: proxy, trace: gatewaySpan }),
    );
    assert.deepEqual(traced.traceparent, [gatewaySpan.traceparent], "the gateway's span replaces the proxy's, once");
    assert.deepEqual(traced.tracestate, ['a=1']);
  });

  it('drops hop-by-hop fields and those Connection names, keeping the rest in order and case', () => {
    const req = fakeRequest([
      'Host',
      'shop.example',
      'Connection',
      'keep-alive, X-Hop',
      'X-Hop',
      'gone',
      'Keep-Alive',
      'timeout=5',
      'TE',
      'trailers',
      'Trailer',
      'X-Sum',
      'Transfer-Encoding',
      'chunked',
      'Upgrade',
      'h2c',
      'Proxy-Authorization',
      'Basic x',
      'Proxy-Connection',
      'keep-alive',
      'Expect',
      '100-continue',
      'Accept',
      'text/html',
      'Cookie',
      'a=1',
    ]);
    const list = upstreamRequestHeaders(req, { requestId: 'r1', trustedProxies: nobody });
    assert.deepEqual(list.slice(0, 6), ['Host', 'shop.example', 'Accept', 'text/html', 'Cookie', 'a=1']);
    assert.deepEqual(asObject(list), {
      host: ['shop.example'],
      accept: ['text/html'],
      cookie: ['a=1'],
      'x-forwarded-for': ['198.51.100.9'],
      'x-forwarded-proto': ['http'],
      'x-forwarded-host': ['shop.example'],
      'x-request-id': ['r1'],
    });
  });

  it("replaces an untrusted client's forwarded headers, even ones Connection names", () => {
    const req = fakeRequest([
      'Host',
      'a.example',
      'Connection',
      'X-Forwarded-For, X-Request-Id, Host',
      'X-Forwarded-For',
      '6.6.6.6',
      'X-Forwarded-Proto',
      'https',
      'X-Forwarded-Host',
      'evil.example',
      'Forwarded',
      'for=6.6.6.6',
      'X-Request-Id',
      'client-chosen',
    ]);
    const seen = asObject(upstreamRequestHeaders(req, { requestId: 'r2', trustedProxies: nobody }));
    assert.deepEqual(seen['x-forwarded-for'], ['198.51.100.9']);
    assert.deepEqual(seen['x-forwarded-proto'], ['http']);
    assert.deepEqual(seen['x-forwarded-host'], ['a.example']);
    assert.deepEqual(seen['x-request-id'], ['r2']);
    assert.deepEqual(seen.host, ['a.example'], 'Host is not a connection option');
    assert.equal(seen.forwarded, undefined);
  });

  it('appends to a trusted proxy’s X-Forwarded-For and keeps its -Proto and -Host', () => {
    const req = fakeRequest(
      [
        'Host',
        'internal:8080',
        'X-Forwarded-For',
        '203.0.113.1',
        'X-Forwarded-For',
        '10.0.0.2',
        'X-Forwarded-Proto',
        'https',
        'X-Forwarded-Host',
        'shop.example',
      ],
      '::ffff:10.1.2.3',
    );
    const trusted = new TrustedProxies(['10.0.0.0/8']);
    const seen = asObject(upstreamRequestHeaders(req, { requestId: 'r3', trustedProxies: trusted }));
    assert.deepEqual(seen['x-forwarded-for'], ['203.0.113.1, 10.0.0.2, 10.1.2.3']);
    assert.deepEqual(seen['x-forwarded-proto'], ['https']);
    assert.deepEqual(seen['x-forwarded-host'], ['shop.example']);
  });

  it("passes another node's gateway's X-Forwarded-For on as it came: the hop between nodes adds none", () => {
    const req = fakeRequest(['X-Forwarded-For', '203.0.113.1, 10.0.0.2', 'X-Forwarded-Proto', 'https'], '10.9.0.7');
    const { trustedProxies, appendPeer } = peersOf(nobody, 'b-1');
    const seen = asObject(upstreamRequestHeaders(req, { requestId: 'r5', trustedProxies, appendPeer }));
    assert.deepEqual(seen['x-forwarded-for'], ['203.0.113.1, 10.0.0.2']);
    assert.deepEqual(seen['x-forwarded-proto'], ['https']);
  });

  it('keeps the upgrade for a WebSocket and sends one Host', () => {
    const req = fakeRequest([
      'Host',
      'a.example',
      'Host',
      'b.example',
      'Connection',
      'Upgrade',
      'Upgrade',
      'websocket',
      'Sec-WebSocket-Key',
      'k==',
    ]);
    const seen = asObject(upstreamRequestHeaders(req, { requestId: 'r4', trustedProxies: nobody, upgrade: true }));
    assert.deepEqual(seen.host, ['a.example']);
    assert.deepEqual(seen.connection, ['Upgrade']);
    assert.deepEqual(seen.upgrade, ['websocket']);
    assert.deepEqual(seen['sec-websocket-key'], ['k==']);
  });

  it('refuses a trusted proxy entry that is not an address', () => {
    assert.throws(() => new TrustedProxies(['localhost']), RangeError);
  });
});

describe('stripResponseHopByHop', () => {
  it('removes hop-by-hop fields and those Connection names from a response', () => {
    const headers: Record<string, string | string[] | undefined> = {
      connection: 'keep-alive, x-internal',
      'keep-alive': 'timeout=5',
      'x-internal': 'secret',
      'transfer-encoding': 'chunked',
      'proxy-authenticate': 'Basic',
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
    };
    stripResponseHopByHop(headers);
    assert.deepEqual(headers, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
  });
});
