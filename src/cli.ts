// Entry point of `backendapp-operator` (see bin/). The commands live in
// src/cli/main.ts; add new ones to COMMANDS there.
import { main } from './cli/main.js';

process.exitCode = await main(process.argv.slice(2));
