/**
 * A copy of `s` that shares no memory with the text it was cut from. The XML parser's texts, names and attribute
 * values of 13 characters or more are V8 "sliced strings": views into the whole message or file they came from,
 * which stays alive as long as any slice does. What outlives a message keeps a copy of its own:
 *  - running's frozen tree (./frozen.ts): after a restart, one ssh-host-key leaf kept running.xml's whole text
 *    (issue 15, branch invmem2);
 *  - a device's link (src/device/link.ts): its last eventTime and delivered job ids kept the device's last
 *    notification message, ~1.4 KB per device (issue 15, 5 December 2026, branch mem15).
 * A shorter string is a copy already and is returned as it is. The JSON round trip is exact for every string, lone
 * surrogates included (a UTF-8 round trip is not).
 */
const SLICE_MIN = 13;

export function ownString(s: string): string {
  return s.length < SLICE_MIN ? s : JSON.parse(JSON.stringify(s)) as string;
}
