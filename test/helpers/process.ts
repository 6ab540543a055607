/** whether a process with this pid exists (signal 0 checks without sending anything; throws ESRCH once it is gone) */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
