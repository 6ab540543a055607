#!/usr/bin/python3
"""Carry one yangcli session over OpenSSH, whose host key check is the pin (used by run.sh).

yangcli's own SSH transport (yuma123 2.x over libssh2) checks no host key. Its --transport=tcp speaks NETCONF 1.0
over plain TCP instead, after one header line "[user;address;tcp;uid;gid;;home;;]". This bridge runs the SSH
command it is given (run.sh: ssh -s netconf with StrictHostKeyChecking=yes against a known_hosts file holding only
the pinned key), waits for the server's <hello> through it, and only then listens on 127.0.0.1 (a free port,
printed to the file named by --port-file) for exactly one connection: it must come from a process of our own user
(/proc/net/tcp) and its header must carry the one-time user name run.sh gave yangcli in a private config file. The
header is dropped; everything else is relayed both ways until either side ends.

Exit codes: 0 relayed and ended, 3 no session (SSH failed: host key, login, unreachable; no hello; the wrong
client), 2 usage.
"""
import os
import selectors
import socket
import subprocess
import sys
import time

EOM = b']]>]]>'


def fail(msg, code=3):
    sys.stderr.write(f'yangcli/ssh-bridge: {msg}\n')
    sys.exit(code)


def read_until(read, stop, limit, deadline, what):
    buf = b''
    while stop not in buf:
        if time.monotonic() > deadline:
            fail(f'no {what} within the timeout')
        chunk = read()
        if not chunk:
            return buf, False
        buf += chunk
        if len(buf) > limit:
            fail(f'{what} longer than {limit} bytes')
    return buf, True


def peer_uid(client_addr, our_addr):
    """uid owning the socket at client_addr connected to our_addr (Linux /proc/net/tcp), or None."""
    def hexaddr(addr):
        return '%08X:%04X' % (int.from_bytes(socket.inet_aton(addr[0]), 'little'), addr[1])
    want_local, want_remote = hexaddr(client_addr), hexaddr(our_addr)
    with open('/proc/net/tcp') as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[1] == want_local and cols[2] == want_remote:
                return int(cols[7])
    return None


def main():
    args = sys.argv[1:]
    if len(args) < 5 or args[0] != '--port-file' or args[2] != '--user' or args[4] != '--':
        fail('usage: ssh-bridge.py --port-file FILE --user ONE-TIME-NAME -- SSH-COMMAND...', 2)
    port_file, nonce, ssh_cmd = args[1], args[3], args[5:]
    timeout = float(os.environ.get('HSV_BRIDGE_TIMEOUT', '30'))

    ssh = subprocess.Popen(ssh_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    # the server's hello, read through the verified SSH connection before anyone may connect to us
    hello, complete = read_until(lambda: os.read(ssh.stdout.fileno(), 65536), EOM, 1 << 20, time.monotonic() + timeout, "server <hello>")
    if not complete:
        code = ssh.wait()
        fail(f'the SSH connection ended before the server said hello (ssh exit {code}; its reason is above)')

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(('127.0.0.1', 0))
    lsock.listen(1)
    lsock.settimeout(timeout)
    tmp = port_file + '.tmp'
    with open(tmp, 'w') as f:
        f.write(f'{lsock.getsockname()[1]}\n')
    os.rename(tmp, port_file)
    try:
        conn, addr = lsock.accept()
    except socket.timeout:
        ssh.kill()
        fail('yangcli did not connect')
    lsock.close()
    uid = peer_uid(addr, conn.getsockname())
    if uid != os.getuid():
        conn.close()
        ssh.kill()
        fail(f'a connection from a process of uid {uid}, not ours ({os.getuid()}): refused, session closed')

    conn.settimeout(timeout)
    conn.sendall(hello)
    header, complete = read_until(lambda: conn.recv(1), b'\n', 4096, time.monotonic() + timeout, "yangcli tcp header")
    fields = header.decode('utf-8', 'replace').strip().lstrip('[').split(';')
    if not complete or fields[0] != nonce:
        conn.close()
        ssh.kill()
        fail('the connecting client is not the yangcli run.sh started (wrong header): session closed')
    conn.settimeout(None)

    sel = selectors.DefaultSelector()
    sel.register(conn, selectors.EVENT_READ, 'client')
    sel.register(ssh.stdout, selectors.EVENT_READ, 'ssh')
    open_ends = 2
    while open_ends:
        for key, _ in sel.select():
            if key.data == 'client':
                data = conn.recv(65536)
                if data:
                    try:
                        ssh.stdin.write(data)
                    except BrokenPipeError:
                        open_ends = 0
                else:
                    sel.unregister(conn)
                    ssh.stdin.close()
                    open_ends = 0
            else:
                data = os.read(ssh.stdout.fileno(), 65536)
                if data:
                    try:
                        conn.sendall(data)
                    except OSError:
                        open_ends = 0
                else:
                    sel.unregister(ssh.stdout)
                    open_ends = 0
    conn.close()
    try:
        ssh.stdin.close()
    except OSError:
        pass
    try:
        ssh.wait(timeout=10)
    except subprocess.TimeoutExpired:
        ssh.kill()
    sys.exit(0)


if __name__ == '__main__':
    main()
