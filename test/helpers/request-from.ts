// A request from a chosen client address (127.0.0.x are all this machine on Linux), for tests
// of what an app counts per address: rate limits and the login's brute-force guard. fetch
// can't bind a local address; node:http can.

import { request as httpRequest } from 'node:http';

export interface AnswerFrom {
  status: number;
  header(name: string): string | undefined;
  json(): { error?: { code: string; details?: Record<string, unknown> } };
}

/** One request from `address`, on a connection of its own; its status, headers and body. */
export function requestFrom(
  url: string,
  address: string,
  init: { method?: 'GET' | 'POST'; body?: unknown; headers?: Record<string, string> } = {},
): Promise<AnswerFrom> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: init.method ?? 'GET',
        localAddress: address,
        headers: { 'content-type': 'application/json', ...init.headers },
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            header: (name) => {
              const value = res.headers[name];
              return Array.isArray(value) ? value[0] : value;
            },
            json: () => JSON.parse(text) as ReturnType<AnswerFrom['json']>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(init.body === undefined ? undefined : JSON.stringify(init.body));
  });
}
