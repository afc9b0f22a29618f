/**
 * The Linux guest in v86 under Node: boots the artefacts from tools/guest/build.ts, talks
 * to busybox's shell on the first serial port, and runs commands with their output and
 * exit status captured.
 *
 * Boot: SeaBIOS loads Debian's bzImage and our initramfs; /init (tools/guest/init.sh)
 * loads the modules, mounts 9p at /mnt/strata when a virtio-9p device is present, prints
 * "strata-guest: ready" and starts a shell. `bootMs` is the host time from creating the
 * emulator to that line.
 *
 * Commands (`run`): after boot the session turns tty echo off and empties the prompt,
 * then each command is sent as `{ cmd\n} 2>&1; printf '\n@@@strata-done N %d\n' $?`
 * and its output is everything before that marker. N counts commands, so a late
 * marker from an earlier command can never end a later one; commands run one at a time.
 * A command's output is captured whole (up to CAPTURE_CHARS_MAX); the transcript kept
 * for diagnostics is bounded (TRANSCRIPT_CHARS_MAX) and only its tail is scanned.
 *
 * State: `saveState()` (v86 save_state) after boot lets a later `boot({initialState})`
 * resume at the prompt in well under a second instead of booting again. Our 9P server and
 * disk are not part of that state, so a state is saved before 9P is mounted (boot with
 * `mount9p: false`) and before the disk is used; after a restore, `mountStrata()` mounts
 * on the new server's fresh session. tools/guest/host.ts does this dance.
 */
import fs from 'node:fs';
import type { GuestArtefacts } from './build.ts';
import { createEmulator, toArrayBuffer, type Handle9p, type V86Disk, type V86Emulator, type V86Options } from './v86.ts';

export const GUEST_MEMORY_BYTES_DEFAULT = 256 * 2 ** 20;
/** Linux's virtio 9P transport carries at most 512 KiB per message; 4x fewer round trips than 128 KiB. */
export const GUEST_MSIZE_BYTES_DEFAULT = 512 * 1024;
export const BOOT_TIMEOUT_MS_DEFAULT = 240_000;
export const COMMAND_TIMEOUT_MS_DEFAULT = 600_000;
const TRANSCRIPT_CHARS_MAX = 1 << 20;
const CAPTURE_CHARS_MAX = 64 << 20;
const MARKER_SCAN_CHARS = 200;
/** Commands longer than this would overflow the guest tty's 4 KiB line buffer. */
export const COMMAND_CHARS_MAX = 3500;
const READY_LINE = 'strata-guest: ready';
/**
 * Kernel options that only skip work at boot, found with initcall_debug: under emulation
 * the crypto self-tests (cryptomgr.notests; crypto_kdf108_init runs its own), parsing the
 * built-in X.509 certificates (modules still load, unverified, as without the key), kprobe
 * event setup and the ISA PnP probe took over half of the kernel's own boot time.
 */
const BOOT_FAST_OPTIONS = ['cryptomgr.notests', 'noisapnp', 'initcall_blacklist=crypto_kdf108_init,load_system_certificate_list,init_kprobe_trace'];

export interface GuestBootOptions {
  artefacts: GuestArtefacts;
  /** 'builtin': v86's own in-memory 9P filesystem; a handler: our server; 'none': no 9P device. */
  filesystem: 'builtin' | 'none' | { handle9p: Handle9p };
  disk?: V86Disk;
  memorySizeBytes?: number;
  msizeBytes?: number;
  /** Resume from a saveState() image instead of booting (the other images must be the same). */
  initialState?: ArrayBuffer;
  /** Mirror of everything the guest prints on its serial console. */
  onOutput?: (text: string) => void;
  bootTimeoutMs?: number;
  /** Do not prepare the shell for scripted commands (leave echo and prompt for a person). */
  interactive?: boolean;
  /** Mount 9p at /mnt/strata during boot (default true; false for a state to save). */
  mount9p?: boolean;
  disableJit?: boolean;
}

export class GuestCommandError extends Error {
  constructor(
    readonly command: string,
    readonly status: number,
    readonly output: string,
  ) {
    super(`guest command failed with status ${status}: ${command.slice(0, 200)}\n--- output ---\n${output.slice(-4000)}`);
  }
}

export interface CommandResult {
  output: string;
  status: number;
}

export class GuestVm {
  /** Host milliseconds from emulator creation to the ready line (or to the restored prompt). */
  bootMs = 0;
  private transcript = '';
  /** Output of the command running now (undefined between commands). */
  private capture: string | undefined;
  private waiters: { test: (t: string) => boolean; resolve: () => void }[] = [];
  private commandCount = 0;
  private busy = false;
  private stopped = false;
  private msizeBytes = GUEST_MSIZE_BYTES_DEFAULT;

  private constructor(
    readonly emulator: V86Emulator,
    private readonly onOutput?: (text: string) => void,
  ) {
    emulator.add_listener('serial0-output-byte', (byte) => {
      const ch = String.fromCharCode(byte); // latin1: one byte, one character
      this.transcript += ch;
      if (this.transcript.length > TRANSCRIPT_CHARS_MAX) this.transcript = this.transcript.slice(-TRANSCRIPT_CHARS_MAX / 2);
      if (this.capture !== undefined && this.capture.length < CAPTURE_CHARS_MAX) this.capture += ch;
      this.onOutput?.(ch);
      if (ch === '\n' || ch === ' ') this.wake();
    });
  }

  static async boot(options: GuestBootOptions): Promise<GuestVm> {
    const a = options.artefacts;
    const read = (p: string) => ({ buffer: toArrayBuffer(fs.readFileSync(p)) });
    const msize = options.msizeBytes ?? GUEST_MSIZE_BYTES_DEFAULT;
    const flags = [options.disk ? 'strata.disk' : '', options.mount9p === false ? 'strata.nomount' : ''];
    const cmdline = ['console=ttyS0', 'quiet', 'loglevel=3', 'mitigations=off', ...BOOT_FAST_OPTIONS, `strata.msize=${msize}`, ...flags].filter(Boolean).join(' ');
    const v86Options: Omit<V86Options, 'wasm_path'> = {
      memory_size: options.memorySizeBytes ?? GUEST_MEMORY_BYTES_DEFAULT,
      vga_memory_size: 2 * 2 ** 20,
      bios: read(a.biosPath),
      vga_bios: read(a.vgaBiosPath),
      bzimage: read(a.kernelPath),
      initrd: read(a.initrdPath),
      cmdline,
      autostart: false,
      acpi: false,
      disable_jit: options.disableJit,
    };
    if (options.filesystem === 'builtin') v86Options.filesystem = {};
    else if (options.filesystem !== 'none') v86Options.filesystem = { handle9p: options.filesystem.handle9p };
    if (options.disk) v86Options.hda = options.disk;
    if (options.initialState) v86Options.initial_state = { buffer: options.initialState };

    const t0 = performance.now();
    const emulator = await createEmulator(v86Options);
    const vm = new GuestVm(emulator, options.onOutput);
    vm.msizeBytes = msize;
    await emulator.run();
    const timeoutMs = options.bootTimeoutMs ?? BOOT_TIMEOUT_MS_DEFAULT;
    try {
      if (options.initialState) {
        // The restored guest sits at its prompt: prove the shell answers.
        await vm.run('true', { timeoutMs });
      } else {
        await vm.waitFor((t) => t.includes(READY_LINE), timeoutMs, 'the guest to boot');
        if (!options.interactive) await vm.prepareShell(timeoutMs);
      }
    } catch (e) {
      await vm.stop();
      throw e;
    }
    vm.bootMs = performance.now() - t0;
    return vm;
  }

  /** Everything the guest printed (the last TRANSCRIPT_CHARS_MAX characters at most). */
  get console(): string {
    return this.transcript;
  }

  /** Types text into the guest's serial console as is (for an attached terminal). */
  type(text: string): void {
    this.emulator.serial0_send(text);
  }

  /** Runs one shell command and captures its combined output and exit status. */
  async run(command: string, options: { timeoutMs?: number } = {}): Promise<CommandResult> {
    if (this.stopped) throw new Error('the guest is stopped');
    if (this.busy) throw new Error('one guest command at a time');
    if (command.length > COMMAND_CHARS_MAX) throw new RangeError(`command of ${command.length} characters (at most ${COMMAND_CHARS_MAX})`);
    this.busy = true;
    try {
      const n = ++this.commandCount;
      const marker = new RegExp(`\\r?\\n@@@strata-done ${n} (\\d+)\\r?\\n`);
      this.capture = '';
      const done = () => marker.exec((this.capture ?? '').slice(-MARKER_SCAN_CHARS));
      this.emulator.serial0_send(`{ ${command}\n} 2>&1; printf '\\n@@@strata-done ${n} %d\\n' $?\n`);
      await this.waitFor(() => done() !== null, options.timeoutMs ?? COMMAND_TIMEOUT_MS_DEFAULT, `command ${n}: ${command.slice(0, 80)}`);
      if (this.capture.length >= CAPTURE_CHARS_MAX) throw new Error(`command ${n} printed more than ${CAPTURE_CHARS_MAX} characters`);
      const text = this.capture.replace(/\r\n/g, '\n');
      const m = new RegExp(`\\n@@@strata-done ${n} (\\d+)\\n`).exec(text);
      if (!m) throw new Error(`command ${n}: output after the end marker\n${text.slice(-500)}`);
      return { output: text.slice(0, m.index), status: Number(m[1]) };
    } finally {
      this.capture = undefined;
      this.busy = false;
    }
  }

  /** Runs a command and returns its output; a non-zero status is a GuestCommandError. */
  async sh(command: string, options: { timeoutMs?: number } = {}): Promise<string> {
    const r = await this.run(command, options);
    if (r.status !== 0) throw new GuestCommandError(command, r.status, r.output);
    return r.output;
  }

  /** Mounts the 9P device at /mnt/strata (after a boot with mount9p false, or a restore). */
  async mountStrata(): Promise<void> {
    await this.sh(`mount -t 9p -o trans=virtio,version=9p2000.L,msize=${this.msizeBytes},cache=none host9p /mnt/strata`);
  }

  /** Echo and prompt back on, for a person at the console (after scripted setup). */
  makeInteractive(): void {
    this.emulator.serial0_send("stty echo; PS1='strata# '; PS2='> '\n");
  }

  /** v86's machine state (RAM, devices, CPU) for a later boot({initialState}). */
  saveState(): Promise<ArrayBuffer> {
    return this.emulator.save_state();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.emulator.destroy();
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** Resolves when `test(transcript)` holds, checked at every newline or space the guest prints. */
  waitFor(test: (transcript: string) => boolean, timeoutMs: number, what: string): Promise<void> {
    if (test(this.transcript)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n--- guest console (tail) ---\n${this.transcript.slice(-3000)}`));
      }, timeoutMs);
      const waiter = {
        test,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
  }

  private wake(): void {
    if (!this.waiters.length) return;
    const ready = this.waiters.filter((w) => w.test(this.transcript) || this.stopped);
    if (!ready.length) return;
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  /** Echo off and an empty prompt, so captured output is exactly what commands print. */
  private async prepareShell(timeoutMs: number): Promise<void> {
    await this.waitFor((t) => t.includes('strata# '), timeoutMs, 'the shell prompt');
    this.emulator.serial0_send("stty -echo; PS1=''; PS2=''\n");
    await this.run('true', { timeoutMs });
  }
}
