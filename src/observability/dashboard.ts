// The live dashboard on the admin listener: a page (dashboard/ at the package's root, plain
// HTML, CSS and JavaScript with uPlot for the charts, so a user builds nothing) and a stream of
// frames (dashboard-frames.ts) as Server-Sent Events. A frame is made every second whether or
// not anyone watches, so a page opened now shows the last minutes at once; the frames kept are
// bounded (HISTORY_FRAMES), and each costs one read of the metrics the node already holds.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AppStatus } from '../supervisor/status.ts';
import { type DashboardFrame, DashboardFrames } from './dashboard-frames.ts';
import type { MetricsSnapshot } from './metrics.ts';
import type { RecentError } from './recent-errors.ts';

export interface DashboardSource {
  app: string;
  /** Every process's metrics of this node, merged. */
  metrics(): Promise<MetricsSnapshot>;
  /** Split: the supervisor's pools, decisions and nodes; absent in `cleave dev`. */
  status?: () => AppStatus;
  /** The node's last 5xx answers with their request ids. */
  errors: () => RecentError[];
}

/** Ten minutes of frames, a second apart. */
const HISTORY_FRAMES = 600;
const INTERVAL_MS = 1000;
/** Frames a watcher may leave unread (a minute's worth or so) before it is let go. */
const MAX_UNREAD_BYTES = 1024 * 1024;

const require = createRequire(import.meta.url);
/** The page's own files: beside src/ and dist/ alike, two levels above this module. */
const PAGE_DIR = new URL('../../dashboard/', import.meta.url);

const ASSETS: Record<string, { file: () => string | URL; type: string }> = {
  '/dashboard': { file: () => new URL('index.html', PAGE_DIR), type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: () => new URL('app.js', PAGE_DIR), type: 'text/javascript; charset=utf-8' },
  '/dashboard/app.css': { file: () => new URL('app.css', PAGE_DIR), type: 'text/css; charset=utf-8' },
  '/dashboard/uplot.js': {
    file: () => require.resolve('uplot/dist/uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  '/dashboard/uplot.css': { file: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

export class Dashboard {
  readonly #source: DashboardSource;
  readonly #log: Logger;
  readonly #frames: DashboardFrames;
  /** Kept without their error lists: only the latest matters, and 600 copies of 50 would not be small. */
  readonly #history: DashboardFrame[] = [];
  #lastErrors: DashboardFrame['errors'] = [];
  readonly #watchers = new Set<ServerResponse>();
  readonly #assets = new Map<string, Buffer>();
  #timer: NodeJS.Timeout | undefined;
  #making = false;

  constructor(source: DashboardSource, log: Logger) {
    this.#source = source;
    this.#log = log;
    this.#frames = new DashboardFrames(source.app);
  }

  start(): void {
    if (this.#timer !== undefined) return;
    void this.#tick();
    this.#timer = setInterval(() => void this.#tick(), INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const watcher of this.#watchers) watcher.end();
    this.#watchers.clear();
  }

  /** Whether `path` is the dashboard's: its page, its files or its stream. */
  serves(path: string): boolean {
    return path === '/dashboard/events' || path in ASSETS;
  }

  /** Answers a GET of one of its paths (`serves`). */
  async answer(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === '/dashboard/events') return this.#stream(req, res);
    const asset = ASSETS[path] as (typeof ASSETS)[string];
    let body = this.#assets.get(path);
    if (body === undefined) {
      body = await readFile(asset.file());
      this.#assets.set(path, body);
    }
    res.writeHead(200, { 'content-type': asset.type, 'content-length': body.length, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  #stream(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    if (req.method === 'HEAD') return void res.end();
    // What the page missed: the last minutes at once, then each frame as it is made.
    const history = this.#history.map((frame, index, all) =>
      index === all.length - 1 ? { ...frame, errors: this.#lastErrors } : frame,
    );
    res.write(`event: history\ndata: ${JSON.stringify(history)}\n\n`);
    this.#watchers.add(res);
    res.on('close', () => this.#watchers.delete(res));
  }

  async #tick(): Promise<void> {
    // A slow read (a busy supervisor) skips a frame rather than stacking them.
    if (this.#making) return;
    this.#making = true;
    try {
      const frame = this.#frames.next(await this.#source.metrics(), this.#source.status?.(), this.#source.errors());
      this.#history.push({ ...frame, errors: [] });
      this.#lastErrors = frame.errors;
      if (this.#history.length > HISTORY_FRAMES) this.#history.shift();
      const event = `data: ${JSON.stringify(frame)}\n\n`;
      for (const watcher of this.#watchers) {
        // A page that stopped reading (a laptop asleep) is let go, not buffered for without end.
        if (watcher.writableLength > MAX_UNREAD_BYTES) watcher.destroy();
        else watcher.write(event);
      }
    } catch (error) {
      this.#log.warn({ err: error }, 'dashboard frame not made');
    } finally {
      this.#making = false;
    }
  }
}
