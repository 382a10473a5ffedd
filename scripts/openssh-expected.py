#!/usr/bin/env python3
"""Writes the expected events of a recorded OpenSSH fixture (tests/fixtures/openssh*/expected.jsonl).

An independent reading of the RFC 3164 file with DESIGN §2's rules, sharing no
code with sshmap: one regular expression per sshd message this recording
contains, addresses anchored at the end of the line, sshd's \\ooo escapes decoded
(twice for messages relayed from the pre-auth child, `... [preauth]`), the two
lines of one rejected banner one attempt (the `kex_exchange_identification`
line, dated by itself, addressed by the next line of its pid, which is shown
with no attempt), the listener's `Connection closed by IP port N` (no
`[preauth]`) a pre-auth close, one MaxAuthTries exhaustion one event, PAM failures never counted as attempts (every connection in the
recording that has one also logged `Failed password`).

    scripts/openssh-expected.py tests/fixtures/openssh/rfc3164.log YEAR > expected.jsonl

Check the result against ground-truth.jsonl (what the client did) before
committing it: the sum of `attempts` must equal the ground truth's, and every
action must show up as the events its `expect` names.
"""
import json, re, sys
IP = r'(?P<ip>[0-9.]+|[0-9a-fA-F:]+)'
def vis_decode(s):
    out = bytearray(); i = 0; b = s.encode()
    while i < len(b):
        if b[i] == 0x5c and i + 3 < len(b) and re.fullmatch(rb'[0-7]{3}', b[i+1:i+4]):
            out.append(int(b[i+1:i+4], 8)); i += 4
        elif b[i] == 0x5c and i + 1 < len(b) and b[i+1] == 0x5c:
            out.append(0x5c); i += 2
        else:
            out.append(b[i]); i += 1
    return out.decode()
def user(s, preauth):
    s = vis_decode(s)
    return vis_decode(s) if preauth else s
env = re.compile(r'^(\w{3}) +(\d+) (\d\d:\d\d:\d\d) (\S+) ([\w-]+)\[(\d+)\]: (.*)$')
rules = [
  ('auth_failure', re.compile(r'^Failed (?P<method>\S+) for (?P<inv>invalid user )?(?P<user>.*) from ' + IP + r' port (?P<port>\d+) ssh2(: [A-Z0-9-]+ SHA256:[A-Za-z0-9+/]+)?$')),
  ('auth_success', re.compile(r'^Accepted (?P<method>\S+) for (?P<user>.*) from ' + IP + r' port (?P<port>\d+) ssh2(: .*)?$')),
  ('invalid_user', re.compile(r'^Invalid user (?P<user>.*) from ' + IP + r' port (?P<port>\d+)$')),
  ('preauth_close', re.compile(r'^Connection closed by (?:(?P<who>authenticating user|invalid user) (?P<user>.*) )?' + IP + r' port (?P<port>\d+) \[preauth\]$')),
  ('negotiation_failure', re.compile(r'^Unable to negotiate with ' + IP + r' port (?P<port>\d+): .*\[preauth\]$')),
  ('too_many_failures', re.compile(r'^error: maximum authentication attempts exceeded for (?P<inv>invalid user )?(?P<user>.*) from ' + IP + r' port (?P<port>\d+) ssh2 \[preauth\]$')),
  ('refused', re.compile(r'^User (?P<user>.*) from ' + IP + r' not allowed because .*$')),
  ('pam_failure', re.compile(r'^pam_unix\(sshd:auth\): authentication failure; .* rhost=' + IP + r'(?:  user=(?P<user>.*)| )$')),
  ('pam_more', re.compile(r'^PAM (?P<n>\d+) more authentication failures?; .* rhost=' + IP + r'(?:  user=(?P<user>.*)| )$')),
  # one scanner connection, two lines: the kex line (the attempt) has no
  # address, the next line of its pid carries it and is shown without counting
  ('kex', re.compile(r'^error: kex_exchange_identification: ')),
  ('bad_protocol_again', re.compile(r'^banner exchange: Connection from ' + IP + r' port (?P<port>\d+): invalid format$')),
  # the listener's close of a connection that sent no banner: no [preauth], still pre-auth
  ('preauth_close_listener', re.compile(r'^Connection closed by ' + IP + r' port (?P<port>\d+)$')),
]
ATTEMPT = {'auth_failure', 'negotiation_failure', 'bad_protocol', 'refused'}
year = int(sys.argv[2])
months = {m: i + 1 for i, m in enumerate('Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split())}
out = []
kex = {}  # pid -> the kex line's event, waiting for its address
for line in open(sys.argv[1], encoding='utf-8'):
    m = env.match(line.rstrip('\n'))
    if not m or m[5] != 'sshd': continue
    msg = m[7]
    for kind, rx in rules:
        r = rx.match(msg)
        if not r: continue
        d = r.groupdict()
        ts = f"{year}-{months[m[1]]:02d}-{int(m[2]):02d}T{m[3]}+00:00"
        if kind == 'kex':
            ev = {'ts': ts, 'kind': 'bad_protocol', 'method': None, 'user': None, 'invalid_user': False,
                  'ip': None, 'port': None, 'count': 1, 'attempts': 1, '_pid': m[6]}
            kex[m[6]] = ev
            out.append(ev); break
        if m[6] in kex:
            kex[m[6]].update(ip=d['ip'], port=int(d['port']))
            del kex[m[6]]
        k = {'pam_more': 'pam_failure', 'bad_protocol_again': 'bad_protocol',
             'preauth_close_listener': 'preauth_close'}.get(kind, kind)
        u = d.get('user')
        ev = {'ts': ts, 'kind': k,
              'method': d.get('method'), 'user': None if u is None else user(u, msg.endswith('[preauth]')),
              'invalid_user': bool(d.get('inv')) or d.get('who') == 'invalid user' or k == 'invalid_user',
              'ip': d['ip'], 'port': int(d['port']) if d.get('port') else None,
              'count': int(d.get('n') or 1), 'attempts': 1 if k in ATTEMPT and kind != 'bad_protocol_again' else 0}
        ev['_pid'] = m[6]
        out.append(ev); break
# A refusal that a `Failed password` of the same connection (pid) reports is not
# an attempt of its own (sshd logs both for one DenyUsers password try).
for i, ev in enumerate(out):
    if ev['kind'] == 'refused' and any(o['kind'] == 'auth_failure' and o['_pid'] == ev['_pid'] for o in out[i:]):
        ev['attempts'] = 0
for ev in out:
    del ev['_pid']
    print(json.dumps(ev, ensure_ascii=False))
