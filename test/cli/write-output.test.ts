/**
 * Writing outputs (issue 16): the rename-over write leaves no temporary file on success or failure, and removes
 * the temporary files a killed compile left behind (their process is gone), but not one a running process owns.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CompileError } from '../../compiler/errors.js';
import { temporaryName, writeAtomically } from '../../compiler/cli/write-output.js';

/** A pid that was used and is gone: a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('writeAtomically', () => {
  it('writes, leaves no temporary file, and removes the leftovers of dead processes only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowrank-write-'));
    const out = join(dir, 'model.lrm');
    const leftover = temporaryName(out, deadPid());
    const live = temporaryName(out, process.ppid); // the test runner's parent: alive
    writeFileSync(leftover, new Uint8Array(1000));
    writeFileSync(live, new Uint8Array(10));
    writeFileSync(join(dir, 'other.lrm.1.tmp'), ''); // another output's: not ours to judge
    await writeAtomically(out, new Uint8Array([1, 2, 3]));
    expect([...readFileSync(out)]).toEqual([1, 2, 3]);
    expect(existsSync(leftover)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['model.lrm', live.slice(dir.length + 1), 'other.lrm.1.tmp'].sort());
  });

  it('a failed write is a one-line CompileError and leaves nothing behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowrank-write-'));
    const e = await writeAtomically(join(dir, 'missing-folder', 'm.lrm'), new Uint8Array(4)).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(CompileError);
    expect((e as Error).message).toMatch(/^cannot write .*m\.lrm: its folder does not exist$/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
