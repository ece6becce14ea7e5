// A real rsyslogd for the syslog tests: started in the foreground with a
// generated configuration in a temporary directory (its own unix socket,
// loopback UDP/TCP/TLS ports, work directory and pid file; never /dev/log
// or /var/run), writing every message it gets to a file with a template that
// shows how it parsed it.
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';

/** One message as rsyslog parsed it. */
export interface Parsed {
  pri: number;
  syslogtag: string;
  programname: string;
  procid: string;
  msg: string;
  /** The rest of the line, %hostname% then %app-name%, %msgid% and %structured-data% */
  hostname: string;
  appname: string;
  msgid: string;
  sd: string;
}

const RSYSLOGD_PATHS = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd', '/usr/local/sbin/rsyslogd'];

/** Path of rsyslogd, or null when it is not installed. */
export function findRsyslogd(): string | null {
  for (const p of RSYSLOGD_PATHS) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v rsyslogd'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

/** Whether rsyslog's GnuTLS network stream driver is installed (Debian
 * package rsyslog-gnutls). */
export function hasGtls(): boolean {
  const r = spawnSync('sh', ['-c', 'ls /usr/lib/*/rsyslog/lmnsd_gtls.so /usr/lib/rsyslog/lmnsd_gtls.so 2>/dev/null'], { encoding: 'utf8' });
  return r.stdout.trim() !== '';
}

async function freePort(type: 'tcp' | 'udp'): Promise<number> {
  if (type === 'tcp') {
    return new Promise((resolve, reject) => {
      const s = net.createServer();
      s.on('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
  }
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.on('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/** A CA and a server certificate for 127.0.0.1/localhost, made with openssl. */
export interface Certs {
  ca: string;
  cert: string;
  key: string;
}

export function makeCerts(dir: string): Certs {
  const p = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=plog test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(p('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.pem'), '-days', '2', '-extfile', p('ext.cnf'));
  return { ca: p('ca.pem'), cert: p('server.pem'), key: p('server.key') };
}

export interface RsyslogOptions {
  /** Also listen with TLS (gtls driver, needs rsyslog-gnutls). */
  tls?: boolean;
}

export class Rsyslog {
  readonly dir: string;
  readonly socket: string;
  /** A SOCK_STREAM unix socket (imptcp), records ended by NUL as glibc
   * sends them on a stream /dev/log (or by LF, imptcp's own framing). */
  readonly streamSocket: string;
  readonly output: string;
  readonly conf: string;
  readonly pidfile: string;
  udpPort = 0;
  tcpPort = 0;
  tlsPort = 0;
  certs: Certs | null = null;
  private proc: ChildProcess | null = null;
  private stderr = '';

  private constructor(readonly bin: string) {
    this.dir = mkdtempSync(join(tmpdir(), 'plog-rsyslog-'));
    this.socket = join(this.dir, 'log.sock');
    this.streamSocket = join(this.dir, 'stream.sock');
    this.output = join(this.dir, 'out.log');
    this.conf = join(this.dir, 'rsyslog.conf');
    this.pidfile = join(this.dir, 'rsyslogd.pid');
  }

  static async start(opts: RsyslogOptions = {}): Promise<Rsyslog> {
    const bin = findRsyslogd();
    if (!bin) throw new Error('rsyslogd is not installed');
    const r = new Rsyslog(bin);
    r.udpPort = await freePort('udp');
    r.tcpPort = await freePort('tcp');
    if (opts.tls) {
      r.tlsPort = await freePort('tcp');
      r.certs = makeCerts(r.dir);
    }
    mkdirSync(join(r.dir, 'work'));
    writeFileSync(r.conf, r.config());
    await r.launch();
    return r;
  }

  private config(): string {
    const q = JSON.stringify; // rsyslog strings take the same escapes for these paths
    const tls = this.certs
      ? `
input(type="imtcp" port="${this.tlsPort}" address="127.0.0.1" name="tls"
      StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon"
      StreamDriver.CAFile=${q(this.certs.ca)} StreamDriver.CertFile=${q(this.certs.cert)}
      StreamDriver.KeyFile=${q(this.certs.key)})`
      : '';
    return `# generated by test/helpers/rsyslog.ts
global(workDirectory=${q(join(this.dir, 'work'))} maxMessageSize="256k"
       net.enableDNS="off" parser.escapeControlCharactersOnReceive="on")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket=${q(this.socket)} RateLimit.Interval="0" UseSpecialParser="off")
module(load="imptcp")
input(type="imptcp" path=${q(this.streamSocket)} unlink="on" AddtlFrameDelimiter="0")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="${this.udpPort}" RateLimit.Interval="0")
module(load="imtcp" MaxSessions="100")
input(type="imtcp" address="127.0.0.1" port="${this.tcpPort}" name="tcp")${tls}
template(name="plogtest" type="string"
         string="%pri%|%syslogtag%|%programname%|%procid%|%hostname%|%app-name%|%msgid%|%structured-data%|%msg%\\n")
*.* action(type="omfile" file=${q(this.output)} template="plogtest" flushOnTXEnd="on" asyncWriting="off")
`;
  }

  private async launch(): Promise<void> {
    rmSync(this.socket, { force: true });
    rmSync(this.streamSocket, { force: true });
    rmSync(this.pidfile, { force: true });
    this.stderr = '';
    const proc = spawn(this.bin, ['-n', '-f', this.conf, '-i', this.pidfile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    // Never leave an rsyslogd behind if the test process dies without after().
    const reap = (): void => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    };
    process.once('exit', reap);
    proc.once('exit', () => process.removeListener('exit', reap));
    proc.stdout.on('data', (d) => (this.stderr += d));
    proc.stderr.on('data', (d) => (this.stderr += d));
    const deadline = Date.now() + 15000;
    // Ready when the socket exists and the TCP inputs accept connections.
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`rsyslogd exited ${proc.exitCode}: ${this.stderr}`);
      if (existsSync(this.socket) && existsSync(this.streamSocket) && (await canConnect(this.tcpPort)) && (!this.tlsPort || (await canConnect(this.tlsPort)))) break;
      if (Date.now() > deadline) throw new Error(`rsyslogd did not start: ${this.stderr}`);
      await sleep(50);
    }
    // imudp has no such signal: wait until a probe datagram comes out.
    const probe = `plog-probe-${Date.now()}-${Math.random()}`;
    const s = dgram.createSocket('udp4');
    try {
      for (;;) {
        s.send(`<13>probe: ${probe}`, this.udpPort, '127.0.0.1');
        await sleep(50);
        if (existsSync(this.output) && readFileSync(this.output, 'utf8').includes(probe)) break;
        if (Date.now() > deadline) throw new Error(`rsyslogd imudp not ready: ${this.stderr}`);
      }
    } finally {
      s.close();
    }
  }

  /** Everything written so far, parsed (probe messages left out). */
  lines(): Parsed[] {
    if (!existsSync(this.output)) return [];
    return readFileSync(this.output, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(parseLine)
      .filter((p) => !p.msg.includes('plog-probe-'));
  }

  /** Wait until `count` more lines than `after` are there; returns the new ones. */
  async waitLines(after: number, count: number, timeout = 10000): Promise<Parsed[]> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const all = this.lines();
      if (all.length >= after + count) return all.slice(after);
      if (Date.now() > deadline) {
        throw new Error(`rsyslog: wanted ${count} new lines, got ${all.length - after}: ${JSON.stringify(all.slice(after))}\n${this.stderr}`);
      }
      await sleep(20);
    }
  }

  /** Wait for a line whose msg contains `text`. */
  async waitFor(text: string, timeout = 10000): Promise<Parsed> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const hit = this.lines().find((l) => l.msg.includes(text));
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`rsyslog: no line with ${JSON.stringify(text)}; have ${JSON.stringify(this.lines().slice(-5))}\n${this.stderr}`);
      await sleep(20);
    }
  }

  /** Stop (SIGTERM, wait) and start again on the same socket and ports. */
  async restart(): Promise<void> {
    await this.stopProcess();
    await this.launch();
  }

  private async stopProcess(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      p.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      p.kill('SIGTERM');
    });
  }

  async stop(): Promise<void> {
    await this.stopProcess();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function parseLine(line: string): Parsed {
  const f = line.split('|');
  const [pri, syslogtag, programname, procid, hostname, appname, msgid] = f;
  // %structured-data% may contain '|'; %msg% too. The SD ends with ']' or is '-'.
  let rest = f.slice(7).join('|');
  let sd = '-';
  if (rest.startsWith('-|')) rest = rest.slice(2);
  else if (rest.startsWith('[')) {
    const end = rest.indexOf(']|');
    sd = rest.slice(0, end + 1);
    rest = rest.slice(end + 2);
  }
  return {
    pri: Number(pri),
    syslogtag: syslogtag ?? '',
    programname: programname ?? '',
    procid: procid ?? '',
    hostname: hostname ?? '',
    appname: appname ?? '',
    msgid: msgid ?? '',
    sd,
    msg: rest,
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * glibc's own syslog() as the reference: test/fixtures/syslog/ref.c compiled
 * (under the name the tests' default ident will have, so that both sides
 * default to the same tag) and run in a private mount namespace whose /dev is
 * a fresh tmpfs with /dev/log a symlink to the test's socket: glibc's path is
 * fixed, and the real /dev/log is never touched. Needs cc and either root
 * (unshare -m) or unprivileged user namespaces (unshare -Urm).
 */
export class GlibcRef {
  private constructor(
    readonly binary: string,
    private readonly unshare: string[],
  ) {}

  /** Compile and probe; returns the reason (a string) when not possible. */
  static make(dir: string, name: string): GlibcRef | string {
    const src = join(repoRoot(), 'test', 'fixtures', 'syslog', 'ref.c');
    const binary = join(dir, name);
    const cc = spawnSync('cc', ['-o', binary, src], { encoding: 'utf8' });
    if (cc.error || cc.status !== 0) return `cannot compile the glibc reference: ${cc.error?.message ?? cc.stderr}`;
    for (const flags of [['-m'], ['-Urm']]) {
      const r = spawnSync('unshare', [...flags, 'sh', '-c', NS_SCRIPT, join(dir, 'probe.sock'), 'true'], { encoding: 'utf8' });
      if (r.status === 0) return new GlibcRef(binary, flags);
    }
    return 'no mount namespace for the glibc reference (unshare -m and unshare -Urm both failed)';
  }

  /** Run ref.c's commands with /dev/log pointing at `socket`. */
  run(socket: string, commands: string[][]): string {
    const r = spawnSync('unshare', [...this.unshare, 'sh', '-c', NS_SCRIPT, socket, this.binary, ...commands.flat()], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`glibc reference failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }
}

// $0 is the socket, "$@" the program and its arguments.
const NS_SCRIPT = 'mount -t tmpfs plog-test /dev && ln -s "$0" /dev/log && exec "$@"';

function repoRoot(): string {
  // dist/test/helpers/rsyslog.js -> repository root
  return join(dirnameOf(import.meta.url), '..', '..', '..');
}

function dirnameOf(url: string): string {
  return join(new URL(url).pathname, '..');
}
