#!/usr/bin/env python3
"""Writes tests/fixtures/sample/auth.log: a small, realistic day of sshd traffic.

Deterministic (seeded). Used by the README's main command and by tests; the
addresses are public ranges commonly seen in SSH brute force, so the map has
countries to colour. Regenerate with: python3 scripts/make-sample-log.py
"""
import random
import sys

random.seed(20261122)
out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/sample/auth.log"
attackers = [
    "218.92.0.112", "218.92.0.34", "61.177.172.140", "183.81.169.238", "45.227.254.8",
    "185.220.101.45", "141.98.11.90", "194.165.16.72", "92.118.39.61", "179.43.180.106",
    "103.149.28.36", "2001:da8:8000:6fc0::12", "5.188.10.180", "81.161.238.2", "159.223.46.91",
    "43.156.43.199", "170.64.161.118", "46.101.1.225", "2a03:b0c0:3:d0::1a5:1", "95.214.27.8",
]
weights = [30, 22, 18, 12, 10, 8, 7, 6, 5, 5, 4, 4, 3, 3, 3, 2, 2, 2, 1, 1]
users = ["root", "admin", "ubuntu", "test", "oracle", "postgres", "user", "git", "pi", "ftpuser", "deploy", "guest"]
hostile = ["<script>alert(1)</script>", "evil from 203.0.113.7 port 22 ssh2", "a\\033[2Jb", "j\\303\\266s\\303\\251"]
lines = []
pid = 20000
t = 0
host = "web1"

def stamp(sec):
    h, rem = divmod(sec, 3600)
    m, s = divmod(rem, 60)
    return f"Nov 22 {h:02}:{m:02}:{s:02}"

def add(sec, prog, p, msg):
    lines.append((sec, f"{stamp(sec)} {host} {prog}[{p}]: {msg}"))

while t < 86_000:
    t += random.randint(20, 400)
    pid += random.randint(1, 9)
    ip = random.choices(attackers, weights)[0]
    port = random.randint(30000, 65000)
    r = random.random()
    prog = "sshd"
    if r < 0.45:
        u = random.choice(users + hostile[:1] * (random.random() < 0.05))
        valid = u in ("root", "git", "ubuntu")
        if not valid:
            add(t, prog, pid, f"Invalid user {u} from {ip} port {port}")
        else:
            add(t, prog, pid, f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={u}")
        n = random.randint(1, 3)
        for i in range(n):
            inv = "" if valid else "invalid user "
            add(t + 2 + i * 3, prog, pid, f"Failed password for {inv}{u} from {ip} port {port} ssh2")
        pre = "authenticating user" if valid else "invalid user"
        add(t + 3 + n * 3, prog, pid, f"Connection closed by {pre} {u} {ip} port {port} [preauth]")
    elif r < 0.55:
        add(t, prog, pid, f"Received disconnect from {ip} port {port}:11: Bye Bye [preauth]")
        add(t, prog, pid, f"Disconnected from {ip} port {port} [preauth]")
    elif r < 0.62:
        add(t, prog, pid, f"Unable to negotiate with {ip} port {port}: no matching key exchange method found. Their offer: diffie-hellman-group14-sha1,diffie-hellman-group1-sha1 [preauth]")
    elif r < 0.68:
        add(t, prog, pid, "error: kex_exchange_identification: Connection closed by remote host")
        add(t, prog, pid, f"Connection closed by {ip} port {port}")
    elif r < 0.72:
        u = random.choice(hostile)
        add(t, prog, pid, f"Invalid user {u} from {ip} port {port}")
        add(t + 2, prog, pid, f"Failed password for invalid user {u} from {ip} port {port} ssh2")
        add(t + 3, prog, pid, f"Connection closed by invalid user {u} {ip} port {port} [preauth]")
    elif r < 0.76:
        add(t, prog, pid, f"error: maximum authentication attempts exceeded for root from {ip} port {port} ssh2 [preauth]")
        add(t, prog, pid, f"Disconnecting authenticating user root {ip} port {port}: Too many authentication failures [preauth]")
    else:
        other = random.choice([
            ("CRON", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"),
            ("systemd", "Started session-42.scope - Session 42 of User deploy."),
            ("sudo", "deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/apt update"),
        ])
        add(t, other[0], pid, other[1])

# The owner logs in from home, and one attacker gets in after failures.
for sec, u, ip, how in [
    (30_000, "deploy", "198.51.100.20", "publickey for deploy from 198.51.100.20 port 50022 ssh2: ED25519 SHA256:q5zPj0xk6X3m8s2d4vB1nLw9cT7yR0aE5uH3gJ6kF2o"),
    (61_000, "git", "218.92.0.112", "password for git from 218.92.0.112 port 41922 ssh2"),
]:
    if u == "git":
        add(sec - 9, "sshd", 33333, f"Failed password for git from {ip} port 41922 ssh2")
        add(sec - 5, "sshd", 33333, f"Failed password for git from {ip} port 41922 ssh2")
        add(sec, "sshd", 33333, f"Accepted {how}")
    else:
        add(sec, "sshd", 31111, f"Accepted {how}")
        add(sec, "sshd", 31111, "pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)")

lines.sort(key=lambda x: x[0])
with open(out, "w") as f:
    for _, l in lines:
        f.write(l + "\n")
print(f"wrote {len(lines)} lines to {out}")
