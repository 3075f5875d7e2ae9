// Static files through `send` (Express's file server): content types, ETag,
// Last-Modified, 304, ranges, index files, and a root no `..` escapes.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StaticDefinition } from '../app/service.ts';
import { RouteNotFoundError } from '../errors.ts';
import { loadOnUse } from '../shared/load-on-use.ts';

/** `send`, loaded when first needed: most services serve no files. */
export const send = loadOnUse<typeof import('send')>('send');

export function serveStatic(
  req: IncomingMessage,
  res: ServerResponse,
  definition: StaticDefinition,
  relativePath: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = send()(req, relativePath, {
      root: definition.dir,
      index: definition.index === false ? false : [definition.index],
      maxAge: definition.maxAgeSeconds * 1000,
      dotfiles: 'ignore',
      etag: true,
      lastModified: true,
    });
    stream.on('error', (error: { status?: number }) => {
      // 403 (a path send considers malicious) answers like a missing file:
      // saying "forbidden" would confirm the file exists.
      reject(new RouteNotFoundError(`no file at ${req.url ?? ''}`, { cause: error }));
    });
    stream.on('end', resolve);
    res.once('close', resolve);
    stream.pipe(res);
  });
}
