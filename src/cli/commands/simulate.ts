/** `henb-sw-verify simulate`: a fleet of simulated femtocells (src/simulator's runSimulateCommand does the work). */
import type { Command, CliContext, ParsedArgs } from '../command.js';
import { importComponent } from '../lazy.js';
import { parseFleet, parseTrustRoot, DEFAULT_FLEET } from '../fleet-spec.js';
import { str } from '../args.js';

interface SimulateCliModule {
  runSimulateCommand(options: Record<string, unknown>, ctx: CliContext): Promise<number>;
}

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'run simulated femtocells (NETCONF servers on loopback) with behaviour profiles',
  usage: '[--fleet PROFILE[@tpm]=N,...] [--trust-root software-key|tpm] [--host HOST] [--base-port PORT] [--call-home [tls://]HOST:PORT,...] [--tls] [--tpm-ek-ca DIR] [--data-dir DIR] [--software-ca FILE] [--json]',
  description:
    'Starts one NETCONF/SSH server per simulated H(e)NB, each on its own port, with components (bootloader, kernel, ' +
    'rootfs, config) measured into a TIM with a measurement log, a device key that signs evidence, two software slots ' +
    'and the device module RPCs and notifications. Profiles: healthy, compromised (fails the PVE check), bad-install ' +
    '(the TIM after install is not the expected one), self-check-fail, unreachable, slow, healthy-reboot, bad-install-reboot, ' +
    'and the conformance kit\'s negative controls flaw-no-replay, flaw-nonce-ignored, flaw-digest-unchecked, ' +
    'flaw-unsigned-completion, flaw-wrong-namespace, flaw-foreign-key, flaw-key-id-mismatch (docs/device-vendor-guide.md). Devices are named ' +
    '<profile>-<n>. With --trust-root tpm (or PROFILE@tpm in --fleet) a device\'s evidence is a TPM 2.0 quote by its own swtpm ' +
    '(swtpm and tpm2-tools must be installed; scripts/install-peers.sh), and it is named <profile>-tpm-<n>; the JSON inventory ' +
    'then carries its attestation key (akPublic) for the PVE. With --tpm-ek-ca DIR each new swtpm is manufactured with an EK certificate ' +
    'signed by a local CA kept in DIR (swtpm_setup --create-ek-cert with swtpm_localca, as a TPM vendor does): the inventory then lists each ' +
    'device\'s EK certificate, its issuer and its EK, and the JSON names DIR/swtpm-localca-rootca-cert.pem as ekCa, so that `pve --devices` ' +
    'checks the chain and challenges each AK (activate-credential). Prints the inventory (one line per device, or JSON) and serves until SIGINT/SIGTERM.',
  options: {
    fleet: { type: 'string', value: 'PROFILE=N,...', help: 'profiles and counts', default: DEFAULT_FLEET },
    host: { type: 'string', value: 'HOST', help: 'address to listen on', default: '127.0.0.1' },
    'base-port': { type: 'string', value: 'PORT', help: 'first port (0 = free ports)', default: '0' },
    'call-home': { type: 'string', value: '[tls://]HOST:PORT,...', help: 'NETCONF Call Home (RFC 8071): each device also connects out to these clients (OAM, PVE) and reconnects with a jittered backoff; tls://HOST:PORT calls home over TLS (section 4, IANA port 4335; implies --tls), HOST:PORT or ssh:// over SSH (4334)' },
    tls: { type: 'boolean', help: 'devices also serve NETCONF over TLS (RFC 7589) on a second port, with certificates from the fleet CA (DATA_DIR/tls/ca.pem); clients authenticate with DATA_DIR/tls/client.pem and client.key' },
    'data-dir': { type: 'string', value: 'DIR', help: 'keep device keys and state here (default: a temporary dir)' },
    'trust-root': { type: 'string', value: 'ROOT', help: 'software-key or tpm (a swtpm per device)', default: 'software-key' },
    'tpm-ek-ca': { type: 'string', value: 'DIR', help: 'tpm devices: manufacture each new swtpm with an EK certificate from the local CA in DIR (created on first use; DIR/swtpm-localca-rootca-cert.pem is the manufacturer CA the PVE trusts, ek-ca)' },
    'software-ca': { type: 'string', value: 'FILE', help: 'devices fetch software-update images over https trusting this CA and check their digest' },
    'log-level': { type: 'string', value: 'LEVEL', help: 'debug, info, warn, error or silent' },
    json: { type: 'boolean', help: 'inventory as JSON' },
  },
  examples: ['henb-sw-verify simulate --fleet healthy=10,slow=2 --json', 'henb-sw-verify simulate --fleet healthy=2,healthy@tpm=1 --json', 'henb-sw-verify simulate --trust-root tpm --fleet healthy=2 --tpm-ek-ca vendor-ca --data-dir fleet --json', 'henb-sw-verify simulate --fleet healthy=2 --call-home 127.0.0.1:4334,127.0.0.1:4335 --json', 'henb-sw-verify simulate --fleet healthy=2 --tls --call-home tls://127.0.0.1:4335 --data-dir fleet --json'],
  run: async (args: ParsedArgs, ctx: CliContext) => {
    const fleet = parseFleet(str(args, 'fleet') ?? DEFAULT_FLEET);
    parseTrustRoot(str(args, 'trust-root'));
    const mod = await importComponent<SimulateCliModule>('../simulator/index.js', 'the femtocell simulator (src/simulator)', 'runSimulateCommand');
    return mod.runSimulateCommand({ ...args.values, fleet }, ctx);
  },
};
