/**
 * HOST:PORT, the one parser of listen and server addresses (the CLI's --listen/--server, the PVE's listen
 * addresses, the simulator's base port). Callers turn `undefined` into their own error (a CLI usage error,
 * a configuration error), so that each names its own option.
 */
export interface HostPort {
  host: string;
  port: number;
}

/** a port number 0..65535 (0: the system picks a free port), or undefined */
export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/** HOST:PORT or [IPv6]:PORT (port 0..65535), or undefined */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? parsePort(m[3]!) : undefined;
  return m && port !== undefined ? { host: (m[1] ?? m[2])!, port } : undefined;
}

/** the inverse of parseHostPort: IPv6 addresses in brackets */
export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
