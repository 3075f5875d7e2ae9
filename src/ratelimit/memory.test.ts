import { rateCountersContract } from './contract.ts';
import { MemoryRateCounters } from './memory.ts';

rateCountersContract('MemoryRateCounters', () => new MemoryRateCounters());
