/**
 * A small 9P2000.L client for tests: marshals T-messages with the server's own codec,
 * sends them through any `(bytes) => Promise<bytes>` transport (the server's handle, or
 * the kernel service), and unmarshals the reply. An Rlerror becomes P9ClientError with
 * the errno number and name, so tests can assert the exact error Linux would see.
 */
import { decodeDirents, decodeMessage, encodeMessage, NOFID, type Body, type Dirent, type Message, type RName, type TName } from '../../services/9p/codec.ts';
import { ERRNO } from '../../services/9p/errno.ts';

export type Transport = (request: Uint8Array) => Promise<Uint8Array>;

const NAME_OF_ERRNO = new Map<number, string>(Object.entries(ERRNO).map(([k, v]) => [v, k]));

export class P9ClientError extends Error {
  constructor(
    readonly ecode: number,
    readonly request: string,
  ) {
    super(`${request}: Rlerror ${NAME_OF_ERRNO.get(ecode) ?? ecode}`);
  }
  get errno(): string {
    return NAME_OF_ERRNO.get(this.ecode) ?? String(this.ecode);
  }
}


export class P9Client {
  private nextTag = 1;
  private nextFid = 100;
  msize = 0;

  constructor(private readonly transport: Transport) {}

  fid(): number {
    return this.nextFid++;
  }

  /** Sends one T-message and returns the body of the expected R-message. */
  async rpc<T extends TName, R extends RName>(name: T, body: Body<T>, expect: R): Promise<Body<R>> {
    const tag = this.nextTag++ & 0x7fff;
    const raw = await this.transport(encodeMessage(name, tag, body));
    const msg: Message = decodeMessage(raw);
    if (msg.tag !== tag) throw new Error(`${name}: reply tag ${msg.tag}, sent ${tag}`);
    if (msg.name === 'Rlerror') throw new P9ClientError(msg.body.ecode, name);
    if (msg.name !== expect) throw new Error(`${name}: got ${msg.name}, expected ${expect}`);
    return msg.body as Body<R>;
  }

  async version(msize = 131072): Promise<Body<'Rversion'>> {
    const r = await this.rpc('Tversion', { msize, version: '9P2000.L' }, 'Rversion');
    this.msize = r.msize;
    return r;
  }

  /** Tversion + Tattach; returns the root fid. */
  async mount(msize = 131072, uid = 0): Promise<number> {
    await this.version(msize);
    const root = this.fid();
    await this.rpc('Tattach', { fid: root, afid: NOFID, uname: 'root', aname: '', nUname: uid }, 'Rattach');
    return root;
  }

  /** Walks `path` (slash-separated, relative to `from`) into a new fid. */
  async walk(from: number, path: string): Promise<number> {
    const names = path.split('/').filter(Boolean);
    const fid = this.fid();
    const r = await this.rpc('Twalk', { fid: from, newfid: fid, wnames: names }, 'Rwalk');
    if (r.wqids.length !== names.length) throw new P9ClientError(ERRNO.ENOENT, `walk ${path} (partial)`);
    return fid;
  }

  async clunk(fid: number): Promise<void> {
    await this.rpc('Tclunk', { fid }, 'Rclunk');
  }

  /** Creates a file in `dir` and writes `data`; returns nothing (the fid is clunked). */
  async writeFile(dir: number, name: string, data: Uint8Array, mode = 0o644): Promise<void> {
    const fid = await this.walk(dir, '');
    await this.rpc('Tlcreate', { fid, name, flags: 0o2 | 0o100, mode, gid: 0 }, 'Rlcreate');
    const chunk = this.msize - 24;
    for (let off = 0; off < data.length; off += chunk) {
      const r = await this.rpc('Twrite', { fid, offset: off, data: data.subarray(off, off + chunk) }, 'Rwrite');
      if (r.count !== Math.min(chunk, data.length - off)) throw new Error(`short write ${r.count}`);
    }
    await this.clunk(fid);
  }

  /** Reads a whole file at `path` from `dir`. */
  async readFile(dir: number, path: string): Promise<Uint8Array> {
    const fid = await this.walk(dir, path);
    await this.rpc('Tlopen', { fid, flags: 0 }, 'Rlopen');
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (;;) {
      const r = await this.rpc('Tread', { fid, offset, count: this.msize - 11 }, 'Rread');
      if (r.data.length === 0) break;
      parts.push(r.data.slice());
      offset += r.data.length;
    }
    await this.clunk(fid);
    const out = new Uint8Array(offset);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Every entry of a directory, following offsets with `count`-byte replies. */
  async readdir(dir: number, path = '', count = 8192): Promise<Dirent[]> {
    const fid = await this.walk(dir, path);
    await this.rpc('Tlopen', { fid, flags: 0o200000 }, 'Rlopen');
    const out: Dirent[] = [];
    let offset = 0;
    for (let round = 0; round < 100_000; round++) {
      const r = await this.rpc('Treaddir', { fid, offset, count }, 'Rreaddir');
      const entries = decodeDirents(r.data);
      if (entries.length === 0) break;
      out.push(...entries);
      offset = entries[entries.length - 1].offset;
    }
    await this.clunk(fid);
    return out;
  }
}
