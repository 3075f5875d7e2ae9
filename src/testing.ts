// `cleave/testing`: the contract suites cleave's own adapters pass, for a user's own. A store
// of one's own (the app's "custom" source of truth) is proven by running, under `node --test`:
//
//   import { storeContract } from 'cleave/testing';
//   storeContract('MyStore', async () => new MyStore(/* a fresh, empty one */));

export { storeContract } from './store/contract.ts';
export type { ListOptions, PutOptions, StoreBackend, StoredRecord } from './store/types.ts';
