// A command on a pseudo-terminal for the integration tests, through
// script(1) from util-linux: the command gets the terminal as its controlling
// terminal and stdio, and a ^C written to script's stdin is the terminal's
// Ctrl-C.
//
// The command's status is written by the shell to a file, not taken from
// `script -e`: script can collect its child's status before the child is
// reaped (when the terminal closes first, as the child exits) and then
// reports a wrong one (CI saw 130 for an exit 3).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const hasScript = spawnSync('script', ['--version']).status === 0;

export interface Terminal {
  child: ChildProcess;
  /** What the terminal showed so far (the command's stdout and stderr, and echoes). */
  output(): string;
  /** The command's exit status once script has exited (a signal: 128+N, as the shell says). */
  status(): Promise<number>;
}

/**
 * Run `cmd`, a shell command line, on a new terminal. The shell traps SIGINT
 * (its children get the default action back on exec), so that it outlives a
 * ^C and reports the command's status.
 */
export function onTerminal(cmd: string, env: NodeJS.ProcessEnv = process.env): Terminal {
  const dir = mkdtempSync(join(tmpdir(), 'plog-tty-'));
  const file = join(dir, 'status');
  const inner = `trap : INT; ${cmd}\necho $? > '${file}'`;
  const child = spawn('script', ['-qc', inner, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...env, SHELL: '/bin/sh' } });
  let out = '';
  // Decoded by the streams, so that a character split between two reads stays whole.
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    status: async () => {
      await exited;
      try {
        const text = readFileSync(file, 'utf8');
        if (!/^\d+\n$/.test(text)) throw new Error(`no status from the shell (${JSON.stringify(text)}); the terminal showed:\n${out}`);
        return Number(text);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`the shell wrote no status; the terminal showed:\n${out}`, { cause: err });
        throw err;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** onTerminal() to the end: the command's status and what the terminal showed. */
export async function runOnTerminal(cmd: string, env?: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  const t = onTerminal(cmd, env);
  t.child.stdin!.end();
  const code = await t.status();
  return { code, output: t.output() };
}
