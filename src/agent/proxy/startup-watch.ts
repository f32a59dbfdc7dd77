/** How a proxied login ended, as the branch told the client. */
export type LoginOutcome = 'authenticated' | 'refused';

export interface StartupEvents {
  /** The branch's BackendKeyData payload (for cancel requests). */
  key(key: Buffer): void;
  /** AuthenticationOk, or an ErrorResponse of class 28 (bad password, unknown role, no hba line) before it. */
  login(outcome: LoginOutcome): void;
}

/**
 * Watches what a branch sends until the first ReadyForQuery (or error): the login's outcome and the
 * BackendKeyData. It only reads message boundaries; the bytes are forwarded as they are.
 */
export class StartupWatcher {
  private buf: Buffer = Buffer.alloc(0);
  private finished = false;
  private loggedIn = false;
  private seen = 0;
  private readonly on: StartupEvents;

  constructor(on: StartupEvents) {
    this.on = on;
  }

  get done(): boolean {
    return this.finished;
  }

  /** The branch said AuthenticationOk. */
  get authenticated(): boolean {
    return this.loggedIn;
  }

  feed(chunk: Buffer): void {
    if (this.finished) return;
    this.seen += chunk.length;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 5) {
      const type = String.fromCharCode(this.buf[0]);
      const len = this.buf.readInt32BE(1);
      // The authentication phase is a few small messages; anything odd ends the watch.
      if (len < 4 || len > 64 * 1024) return this.finish();
      if (this.buf.length < 1 + len) break;
      const body = this.buf.subarray(5, 1 + len);
      this.buf = this.buf.subarray(1 + len);
      if (type === 'R' && body.length >= 4 && body.readInt32BE(0) === 0 && !this.loggedIn) {
        this.loggedIn = true;
        this.on.login('authenticated');
      }
      if (type === 'K') this.on.key(Buffer.from(body));
      if (type === 'E' && !this.loggedIn && sqlStateOf(body).startsWith('28')) this.on.login('refused');
      if (type === 'Z' || type === 'E') return this.finish();
    }
    if (this.seen > 256 * 1024) this.finish();
  }

  private finish(): void {
    this.finished = true;
    this.buf = Buffer.alloc(0);
  }
}

/** The `C` field of an ErrorResponse body (NUL-terminated fields, each a type byte then text). */
function sqlStateOf(body: Buffer): string {
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const end = body.indexOf(0, at + 1);
    if (end < 0) break;
    if (body[at] === 0x43) return body.toString('latin1', at + 1, end);
    at = end + 1;
  }
  return '';
}
