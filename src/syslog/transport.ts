// What the Logger needs from a transport, and the knobs they share.

import type { SyslogMessage } from './format.js';

/** Why a message did not reach the receiver. */
export type DropReason =
  | 'overflow' // the bounded queue was full (receiver too slow): the newest message is dropped
  | 'undeliverable' // no receiver, or sending failed even after reconnecting once
  | 'stalled' // queued, but the receiver made no progress for stallTimeout ms
  | 'closed'; // queued when the transport was destroyed

export interface TransportHooks {
  /** Called once per message that will never be sent; `err` for failures. */
  drop(m: SyslogMessage, reason: DropReason, err?: Error): void;
}

export interface QueueLimits {
  /** Most messages kept while the receiver cannot take them (default 1000). */
  queueMessages: number;
  /** Most bytes kept likewise (default 1 MiB). */
  queueBytes: number;
  /** Give up on the queue when the receiver took nothing for this long, so
   * that a stuck receiver cannot keep the process alive forever (default 5000 ms). */
  stallTimeout: number;
}

export const DEFAULT_LIMITS: QueueLimits = { queueMessages: 1000, queueBytes: 1 << 20, stallTimeout: 5000 };

export interface Transport {
  /** Send or queue one message. Never blocks and never throws: what cannot be
   * sent is reported through hooks.drop. */
  send(m: SyslogMessage): void;
  /** Open the connection now (LOG_NDELAY); errors are ignored as glibc does. */
  connect(): void;
  /** Resolves when every queued message has been handed to the kernel (or dropped). */
  flush(): Promise<void>;
  /** Deliver what is queued (within stallTimeout), then close. */
  close(): Promise<void>;
  /** Close now; queued messages are dropped (reason 'closed'). */
  destroy(): void;
  /** Messages waiting in this transport's own queue. */
  readonly queued: number;
}

// Resolves waiters when a queue empties: the send queue's (src/sendqueue.ts).
export { Waiters } from '../sendqueue.js';
