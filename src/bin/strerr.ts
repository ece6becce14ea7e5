#!/usr/bin/env node
// The installed strerr command (package.json "bin"): SIGUSR1's guard alone, then
// the program, so that the guard runs before the program's modules are read
// (src/daemon/no-inspector.ts says why).
import '../daemon/no-inspector.js';
// Then, before it can detach, whether the native addon is there.
(await import('../native.js')).exitIfAddonMissing('strerr');
await import('../cli/strerr.js');
