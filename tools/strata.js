#!/usr/bin/env node
// The `strata` bin: runs tools/strata.ts through tsx, so no build step is needed.
import { register } from 'tsx/esm/api';
register();
await import('./strata.ts');
