// The text log of a process tree (plog --tree; plogsrvd(1), Tree logs): the usual columns,
// every value the sum over the process and its descendants, and one more
// column, Procs: how many processes the sums hold.
import { formatHeader, type TimeForm } from './logline.js';

/** Width of the Priv&Write column (logline.ts's last column). */
const PRIV_WIDTH = 10;

/** The header of a tree log (with its '\n'). */
export function treeHeader(withSeconds: TimeForm): string {
  return `${formatHeader(withSeconds).slice(0, -1)} Procs\n`;
}

/** A sample line (with its '\n') with the Procs column added, aligned under the header. */
export function withProcs(line: string, procs: number): string {
  const body = line.endsWith('\n') ? line.slice(0, -1) : line;
  const last = body.length - body.lastIndexOf(' ') - 1;
  return `${body}${' '.repeat(Math.max(1, PRIV_WIDTH - last + 1))}${procs}\n`;
}
