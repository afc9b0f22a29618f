/**
 * The SQLite baseline for durable metadata commits: better-sqlite3 in WAL mode with
 * synchronous=FULL, one INSERT of the same payload bytes per transaction, on the same
 * filesystem as Axiom's file. SQLite has one writer per database, so concurrent
 * proposers in one process become a sequence of transactions; its figure is the same
 * for 1, 16 and 256 proposers by construction, and is measured once per row all the same.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { BaselineWork } from '../../axiom/bench.ts';

export async function sqliteBaseline(work: BaselineWork): Promise<{ name: string; value: number }> {
  const file = path.join(work.dir, 'sqlite-baseline.db');
  for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE records (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL)');
    const insert = db.prepare('INSERT INTO records (payload) VALUES (?)');
    const one = db.transaction((payload: Uint8Array) => insert.run(payload));
    const t0 = performance.now();
    for (let i = 0; i < work.transactions; i++) one(work.payloadFor(i));
    const seconds = (performance.now() - t0) / 1000;
    return { name: 'SQLite WAL synchronous=FULL', value: work.transactions / seconds };
  } finally {
    db.close();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
  }
}
