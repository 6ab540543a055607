/** `henb-sw-verify pve`: the reference PVE service (src/cli/pve-service.ts's runPveCommand does the work). */
import type { Command, CliContext, ParsedArgs } from '../command.js';
import { importComponent } from '../lazy.js';

interface PveCliModule {
  runPveCommand(options: Record<string, unknown>, ctx: CliContext): Promise<number>;
}

export const pveCommand: Command = {
  name: 'pve',
  summary: 'run the reference PVE (Platform Validation Entity) over RESTCONF/HTTPS',
  usage: '--listen HOST:PORT --data-dir DIR [--devices FILE] [--oam-jwks FILE] [--call-home-listen HOST:PORT] [--call-home-tls-listen HOST:PORT] [--json]',
  description:
    'Serves the integrity-request operation (RFC 8040 POST, RFC 7951 JSON) over HTTPS. For each request it collects ' +
    'evidence from the H(e)NB (integrity measurement with its own nonce over NETCONF), checks the device signature and ' +
    'compares the TIM with its reference values, and answers with a signed token. Its TLS certificate, signing key and ' +
    'JWKS are kept in the data dir. It also serves provide-reference-values: after a verified update the OAM hands it the ' +
    'new reference values of the H(e)NB, signed; they are accepted only with a key of --oam-jwks (the OAM\'s JWKS file). ' +
    'Prints one ready line and stops on SIGINT/SIGTERM.',
  options: {
    listen: { type: 'string', value: 'HOST:PORT', help: 'HTTPS address (port 0 picks a free port)' },
    'data-dir': { type: 'string', value: 'DIR', help: 'TLS material, signing key, JWKS' },
    devices: { type: 'string', value: 'FILE', help: 'the H(e)NBs it may check and their reference values (YAML/JSON)' },
    'oam-jwks': { type: 'string', value: 'FILE', help: 'the OAM\'s JWKS: whose signed reference values are accepted' },
    'call-home-listen': { type: 'string', value: 'HOST:PORT', help: 'NETCONF Call Home (RFC 8071): where call-home devices connect (4334 is the IANA port)' },
    'call-home-tls-listen': { type: 'string', value: 'HOST:PORT', help: 'NETCONF Call Home over TLS (RFC 8071 section 4): where devices with transport tls call (4335 is the IANA port); the PVE presents their tls client certificate' },
    'log-level': { type: 'string', value: 'LEVEL', help: 'debug, info, warn, error or silent' },
    json: { type: 'boolean', help: 'ready line as JSON' },
  },
  examples: ['henb-sw-verify pve --listen 127.0.0.1:8443 --data-dir ./pve-data'],
  run: async (args: ParsedArgs, ctx: CliContext) => {
    const mod = await importComponent<PveCliModule>('./pve-service.js', 'the reference PVE (src/pve)', 'runPveCommand');
    return mod.runPveCommand(args.values, ctx);
  },
};
