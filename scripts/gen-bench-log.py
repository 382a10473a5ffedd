#!/usr/bin/env python3
"""Writes a deterministic, realistic-looking auth.log for benchmarks.

One day of RFC 3164 lines from two hosts, sorted by time. Most sshd lines belong
to attack connections whose lines keep one pid and their order (interleaved with
overlapping connections, as in a real log); sources follow a
Zipf law over ~20k public-looking addresses (some IPv6), user names too. About
10% of the lines come from other programs (CRON, systemd-logind, sudo, kernel).

    scripts/gen-bench-log.py [OUT] [--lines N] [--seed S]

Defaults: OUT=bench-data/auth-1m.log, N=1,000,000, S=1. The same arguments
always give the same bytes. A line mix summary goes to stderr.
"""

import argparse
import bisect
import collections
import ipaddress
import itertools
import os
import random
import sys

MONTH = "Nov"
DAY = 22
HOSTS = [("web1", "sshd", 0.7), ("bastion", "sshd-session", 0.3)]  # 9.8+ host writes sshd-session

USERS = ["root", "admin", "test", "user", "ubuntu", "oracle", "postgres", "git", "ftp", "guest",
         "pi", "support", "deploy", "debian", "ansible", "jenkins", "hadoop", "mysql", "tomcat",
         "www-data", "nagios", "steam", "minecraft", "devops", "centos", "ec2-user", "azureuser",
         "administrator", "user1", "test1", "demo", "backup", "server", "dev", "web", "teamspeak",
         "vagrant", "docker", "elastic", "kafka", "solana", "sol", "validator", "node", "odoo",
         "zabbix", "redis", "es", "ftpuser", "testuser", "sa", "alex", "john", "mike", "david"]
HOSTILE = ["admin user", "x from 203.0.113.7", "y port 22 ssh2", "<script>alert(1)</script>", ""]
VALID = ["root", "alice", "deploy", "git"]   # accounts that exist on the hosts
LEGIT = ["alice", "deploy", "git"]            # who logs in successfully

KEX_OFFERS = [
    "no matching key exchange method found. Their offer: diffie-hellman-group1-sha1,diffie-hellman-group14-sha1",
    "no matching host key type found. Their offer: ssh-rsa,ssh-dss",
    "no matching cipher found. Their offer: aes128-cbc,3des-cbc,aes192-cbc,aes256-cbc",
    "no matching MAC found. Their offer: hmac-sha1-96,hmac-md5",
]
BANNERS = ['"GET / HTTP/1.1"', '"\\026\\003\\001"', '"MGLNDD_198.51.100.20_22"', '"SSH-2.0-Go"']


def public_ipv4(rng):
    while True:
        a = rng.randrange(1, 224)
        if a in (10, 127) or a >= 224:
            continue
        ip = ipaddress.IPv4Address((a << 24) | rng.getrandbits(24))
        if ip.is_global:
            return str(ip)


def public_ipv6(rng):
    prefix = rng.choice(["2a01:4f8", "2001:41d0", "2604:a880", "2a03:b0c0", "2400:6180", "2001:bc8"])
    groups = [format(rng.getrandbits(16), "x") for _ in range(2)]
    return f"{prefix}:{groups[0]}:{groups[1]}::{format(rng.getrandbits(12), 'x')}"


def zipf_picker(rng, items, s):
    cum = list(itertools.accumulate(1.0 / (r ** s) for r in range(1, len(items) + 1)))
    total = cum[-1]
    return lambda: items[bisect.bisect_left(cum, rng.random() * total)]


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        rng = self.rng
        addrs = set()
        while len(addrs) < 20_000:
            addrs.add(public_ipv6(rng) if rng.random() < 0.06 else public_ipv4(rng))
        addrs = sorted(addrs)
        rng.shuffle(addrs)
        self.ip = zipf_picker(rng, addrs, 1.05)
        self.legit_ip = [public_ipv4(rng) for _ in range(12)]
        self.user = zipf_picker(rng, USERS, 1.2)
        self.pid = {h: rng.randrange(1000, 90000) for h, _, _ in HOSTS}
        self.mix = collections.Counter()

    def next_pid(self, host):
        self.pid[host] = (self.pid[host] + self.rng.randrange(1, 40)) % 4_000_000 + 300
        return self.pid[host]

    def attacker_user(self):
        r = self.rng.random()
        if r < 0.002:
            return self.rng.choice(HOSTILE)
        while True:
            u = self.user()
            if u not in VALID:
                return u

    # Each connection returns [(seconds after start, program, message, mix label)].
    def conn_invalid(self, ip, port):
        rng, u = self.rng, self.attacker_user()
        out = [(0, f"Invalid user {u} from {ip} port {port}", "invalid_user")]
        t = 0
        tries = rng.choice([1, 1, 2, 2, 3])
        for i in range(tries):
            if i == 0 and rng.random() < 0.12:
                out.append((t, "pam_unix(sshd:auth): check pass; user unknown", "pam"))
                out.append((t, f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip} ", "pam"))
            t += rng.randrange(1, 4)
            out.append((t, f"Failed password for invalid user {u} from {ip} port {port} ssh2", "failed_password"))
        if tries == 3 and rng.random() < 0.5:
            out.append((t, f"error: maximum authentication attempts exceeded for invalid user {u} from {ip} port {port} ssh2 [preauth]", "too_many"))
            out.append((t, f"Disconnecting invalid user {u} {ip} port {port}: Too many authentication failures [preauth]", "too_many"))
        else:
            out += self.close(t + 1, ip, port, f"invalid user {u} ")
        if tries > 1 and rng.random() < 0.1:
            out.append((t + 1, f"PAM {tries - 1} more authentication failure{'s' if tries > 2 else ''}; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip} ", "pam"))
        return out

    def conn_valid(self, ip, port):
        rng = self.rng
        u = rng.choice(VALID) if rng.random() < 0.3 else "root"
        tries = rng.choice([1, 1, 2, 3])
        out = []
        if rng.random() < 0.4:
            out.append((0, f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={u}", "pam"))
        t = 0
        for _ in range(tries):
            t += rng.randrange(1, 4)
            out.append((t, f"Failed password for {u} from {ip} port {port} ssh2", "failed_password"))
        out += self.close(t + 1, ip, port, f"authenticating user {u} ")
        if tries > 1 and rng.random() < 0.3:
            out.append((t + 1, f"PAM {tries - 1} more authentication failure{'s' if tries > 2 else ''}; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={u}", "pam"))
        return out

    def close(self, t, ip, port, who):
        r = self.rng.random()
        if r < 0.8:
            return [(t, f"Connection closed by {who}{ip} port {port} [preauth]", "preauth_close")]
        if r < 0.9:
            return [(t, f"Received disconnect from {ip} port {port}:11: Bye Bye [preauth]", "preauth_close"),
                    (t, f"Disconnected from {who}{ip} port {port} [preauth]", "preauth_close")]
        return [(t, f"Connection reset by {who}{ip} port {port} [preauth]", "preauth_close")]

    def conn_scanner(self, ip, port):
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            return [(0, f"Unable to negotiate with {ip} port {port}: {rng.choice(KEX_OFFERS)} [preauth]", "negotiation")]
        if r < 0.6:
            return [(0, "error: kex_exchange_identification: Connection closed by remote host", "kex"),
                    (0, f"Connection closed by {ip} port {port}", "kex")]
        if r < 0.75:
            return [(0, f"error: kex_exchange_identification: client sent invalid protocol identifier {rng.choice(BANNERS)}", "kex"),
                    (0, f"banner exchange: Connection from {ip} port {port}: invalid format", "kex")]
        if r < 0.9:
            return [(0, f"Did not receive identification string from {ip} port {port}", "no_ident")]
        return [(0, f"Connection closed by {ip} port {port} [preauth]", "preauth_close")]

    def conn_success(self, ip, port):
        rng = self.rng
        u = rng.choice(LEGIT)
        if rng.random() < 0.6:
            key = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(43))
            acc = f"Accepted publickey for {u} from {ip} port {port} ssh2: ED25519 SHA256:{key}"
        else:
            acc = f"Accepted password for {u} from {ip} port {port} ssh2"
        d = rng.randrange(2, 60)
        out = [(0, acc, "accepted"),
               (0, f"pam_unix(sshd:session): session opened for user {u}(uid=1000) by (uid=0)", "session")]
        if rng.random() < 0.3:
            out += [(d, f"Received disconnect from {ip} port {port}:11: disconnected by user", "session"),
                    (d, f"Disconnected from user {u} {ip} port {port}", "session"),
                    (d, f"pam_unix(sshd:session): session closed for user {u}", "session")]
        return out

    def other(self, host):
        rng = self.rng
        r = rng.random()
        pid = rng.randrange(300, 4_000_000)
        if r < 0.45:
            return f"CRON[{pid}]: pam_unix(cron:session): session {'opened' if rng.random() < 0.5 else 'closed'} for user root" + ("(uid=0) by (uid=0)" if rng.random() < 0.5 else "")
        if r < 0.65:
            return f"systemd-logind[412]: {'New session' if rng.random() < 0.5 else 'Removed session'} {rng.randrange(1, 9000)}{' of user alice' if rng.random() < 0.5 else ''}."
        if r < 0.8:
            return f"sudo[{pid}]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update"
        if r < 0.9:
            return f"systemd[1]: Started session-{rng.randrange(1, 9000)}.scope - Session {rng.randrange(1, 9000)} of User alice."
        src = public_ipv4(rng)
        return (f"kernel: [{rng.randrange(1, 900000)}.{rng.randrange(0, 999999):06d}] [UFW BLOCK] IN=eth0 OUT= "
                f"MAC=00:16:3e:00:00:01 SRC={src} DST=198.51.100.10 LEN=44 TOS=0x00 PREC=0x00 TTL=245 ID=54321 PROTO=TCP "
                f"SPT={rng.randrange(1024, 65535)} DPT={rng.choice([22, 23, 2222, 3389])} WINDOW=1024 RES=0x00 SYN URGP=0")

    def connection(self):
        rng = self.rng
        r = rng.random()
        if r < 0.115:
            ip, kind = rng.choice(self.legit_ip), self.conn_success
        else:
            ip = self.ip()
            kind = (self.conn_invalid if r < 0.72 else self.conn_valid if r < 0.86 else self.conn_scanner)
        return kind(ip, rng.randrange(1024, 65536))


def stamp(sec):
    h, rem = divmod(sec, 3600)
    return f"{MONTH} {DAY:2d} {h:02d}:{rem // 60:02d}:{rem % 60:02d}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="bench-data/auth-1m.log")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    g = Gen(a.seed)
    rng = g.rng

    # Build connections until the line budget is met, give each a start time,
    # then sort every line by (time, connection, position): the lines of one
    # connection keep their pid and order, and interleave with the connections
    # that overlap it, as in a real log.
    conns, n = [], 0
    while n < a.lines:
        host = rng.choices(HOSTS, weights=[w for _, _, w in HOSTS])[0]
        if rng.random() < 0.27:
            lines = [(0, g.other(host[0]), "other_program")]
            pid = None
        else:
            lines = g.connection()
            pid = g.next_pid(host[0])
        lines = lines[: a.lines - n]
        conns.append((host, pid, lines))
        n += len(lines)
    starts = sorted(rng.randrange(0, 86_400 - 120) for _ in conns)
    out = []
    for i, (start, ((hname, prog, _), pid, lines)) in enumerate(zip(starts, conns)):
        for j, (dt, msg, label) in enumerate(lines):
            t = min(start + dt, 86_399)
            text = f"{stamp(t)} {hname} {msg}\n" if pid is None else f"{stamp(t)} {hname} {prog}[{pid}]: {msg}\n"
            out.append((t, i, j, text, label))
    out.sort(key=lambda r: (r[0], r[1], r[2]))

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w", encoding="utf-8", newline="\n") as f:
        for _, _, _, text, label in out:
            f.write(text)
            g.mix[label] += 1
    written = len(out)
    for label, c in g.mix.most_common():
        print(f"{label:16} {c:8} {100 * c / written:5.1f}%", file=sys.stderr)
    print(f"{written} lines -> {a.out} ({os.path.getsize(a.out)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
