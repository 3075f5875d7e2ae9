// A WebSocket client that queues what it receives, so a test can await the
// next message instead of racing the event.

import WebSocket from 'ws';

export interface TestSocket {
  ws: WebSocket;
  next(timeoutMs?: number): Promise<unknown>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export function openSocket(url: string, headers: Record<string, string> = {}): Promise<TestSocket> {
  const ws = new WebSocket(url, { headers });
  const inbox: unknown[] = [];
  const waiters: Array<(message: unknown) => void> = [];
  ws.on('message', (data) => {
    // The default binaryType is 'nodebuffer': every frame arrives as one Buffer.
    const text = (data as Buffer).toString('utf8');
    let message: unknown = text;
    try {
      message = JSON.parse(text);
    } catch {}
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else inbox.push(message);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return new Promise((resolve, reject) => {
    ws.once('open', () =>
      resolve({
        ws,
        closed,
        close: () => ws.close(),
        next(timeoutMs = 2000) {
          if (inbox.length > 0) return Promise.resolve(inbox.shift());
          return new Promise((resolveNext, rejectNext) => {
            const timer = setTimeout(() => rejectNext(new Error('no message in time')), timeoutMs);
            waiters.push((message) => {
              clearTimeout(timer);
              resolveNext(message);
            });
          });
        },
      }),
    );
    ws.once('unexpected-response', (_req, res) =>
      reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })),
    );
    ws.once('error', reject);
  });
}
