// The browser page: static files only.

import { defineService } from 'cleave';

export const web = defineService('web');

web.static('/', { dir: new URL('./web/public/', import.meta.url) });
