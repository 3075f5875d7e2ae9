// `cleave/testing` is how a user proves a store of their own: the package's own name resolves
// to the contract suite every cleave adapter passes (here run over one of cleave's).

import { storeContract } from 'cleave/testing';
import { MemoryStore } from '../src/store/memory.ts';

storeContract('a store checked through cleave/testing', async () => new MemoryStore());
