#!/usr/bin/env node
// The installed strlog command (package.json "bin"): SIGUSR1's guard alone, then
// the program, so that the guard runs before the program's modules are read
// (src/daemon/no-inspector.ts says why).
import '../daemon/no-inspector.js';
await import('../cli/strlog.js');
