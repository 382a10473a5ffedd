#!/usr/bin/env bash
# Records real Dropbear auth logs for sshmap's test fixtures.
#
# Runs a private rsyslogd (listening on /dev/log) that writes the same auth
# events in three envelopes (RFC 3164, RFC 3339 high precision, RFC 5424),
# starts a private Debian `dropbear` on 127.0.0.1/::1, attacks it with the real
# OpenSSH client, and writes what it did to ground-truth.jsonl. The same shape
# as scripts/record-sshd-fixtures.sh.
#
# Usage (Debian, as root):   scripts/record-dropbear-fixtures.sh [OUTDIR]
#   OUTDIR defaults to tests/fixtures/dropbear. PORT (default 2223) may be set.
#
# It refuses to run when something already owns /dev/log, starts nothing it
# does not stop, and removes the throwaway user and /dev/log on exit.
set -euo pipefail

export TZ=UTC LC_ALL=C.UTF-8
OUT=$(realpath -m "${1:-tests/fixtures/dropbear}")
PORT=${PORT:-2223}
TUSER=sshmapdb            # the throwaway account that really exists
TPASS='Corr3ct-horse-battery'
MAXTRIES=3

die() { echo "record-dropbear-fixtures: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (it installs packages, adds a user, binds /dev/log)"
[ -r /etc/debian_version ] || die "needs Debian (apt-get, dropbear-bin)"

# --- packages ---------------------------------------------------------------
# dropbear-bin has the server without the service that the `dropbear` package starts.
need=()
for p in dropbear-bin openssh-client rsyslog netcat-openbsd jq; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}"
fi

[ -e /dev/log ] && die "/dev/log exists: another syslog daemon owns it; stop it first (this script needs its own)"
ip -6 addr show lo | grep -q '::1' || die "no ::1 on lo"

WORK=$(mktemp -d /tmp/sshmap-dropbear.XXXXXX)
chmod 755 "$WORK"
RSYSLOG_PID= DROPBEAR_PID= USER_CREATED= DEVLOG_INO=

cleanup() {
    set +e
    if [ -n "$DROPBEAR_PID" ]; then kill "$DROPBEAR_PID" 2>/dev/null; wait "$DROPBEAR_PID" 2>/dev/null; fi
    if [ -n "$RSYSLOG_PID" ]; then kill "$RSYSLOG_PID" 2>/dev/null; wait "$RSYSLOG_PID" 2>/dev/null; fi
    [ -n "$DEVLOG_INO" ] && [ "$(stat -c %i /dev/log 2>/dev/null)" = "$DEVLOG_INO" ] && rm -f /dev/log
    [ -n "$USER_CREATED" ] && userdel -r "$TUSER" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- rsyslogd: one input, three files, three templates ----------------------
mkdir -p "$WORK/spool"
cat > "$WORK/rsyslog.conf" <<EOF
global(workDirectory="$WORK/spool")
module(load="imuxsock" SysSock.Name="/dev/log" SysSock.RateLimit.Interval="0")
auth,authpriv.* action(type="omfile" file="$WORK/rfc3164.log" template="RSYSLOG_TraditionalFileFormat")
auth,authpriv.* action(type="omfile" file="$WORK/rfc3339.log" template="RSYSLOG_FileFormat")
auth,authpriv.* action(type="omfile" file="$WORK/rfc5424.log" template="RSYSLOG_SyslogProtocol23Format")
EOF
rsyslogd -N1 -f "$WORK/rsyslog.conf" >/dev/null
rsyslogd -n -f "$WORK/rsyslog.conf" -i "$WORK/rsyslogd.pid" &
RSYSLOG_PID=$!
for _ in $(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done
[ -S /dev/log ] || die "rsyslogd did not create /dev/log"
DEVLOG_INO=$(stat -c %i /dev/log)

# --- the throwaway user -----------------------------------------------------
id "$TUSER" >/dev/null 2>&1 && die "user $TUSER already exists; remove it or pick another name"
useradd -m -s /bin/sh "$TUSER"
USER_CREATED=1
echo "$TUSER:$TPASS" | chpasswd
ssh-keygen -q -t ed25519 -N '' -C "$TUSER-fixture" -f "$WORK/client_ed25519"
ssh-keygen -q -t ed25519 -N '' -C "not-authorized" -f "$WORK/other_ed25519"
install -d -m 700 -o "$TUSER" -g "$TUSER" "/home/$TUSER/.ssh"
install -m 600 -o "$TUSER" -g "$TUSER" "$WORK/client_ed25519.pub" "/home/$TUSER/.ssh/authorized_keys"

# --- dropbear -----------------------------------------------------------------
# -F foreground (it still logs to syslog, authpriv), -w no root logins,
# -T the MaxAuthTries of the sshd recording.
dropbearkey -t ed25519 -f "$WORK/dropbear_ed25519_host_key" >/dev/null
DB_ARGS=(-F -w -T "$MAXTRIES" -r "$WORK/dropbear_ed25519_host_key" -p "127.0.0.1:$PORT" -p "[::1]:$PORT" -P "$WORK/dropbear.pid")
dropbear "${DB_ARGS[@]}" &
DROPBEAR_PID=$!
listening() { ss -Hltnp "sport = :$PORT" | grep -c "pid=$DROPBEAR_PID,"; }
for _ in $(seq 100); do
    [ "$(listening)" -ge 2 ] && break
    kill -0 "$DROPBEAR_PID" 2>/dev/null || die "dropbear exited (see its messages above)"
    sleep 0.1
done
[ "$(listening)" -ge 2 ] || die "our dropbear is not listening on 127.0.0.1 and ::1 port $PORT (port taken? pick another PORT)"
[ "$(ss -Hltn "sport = :$PORT" | wc -l)" -eq 2 ] || die "another process listens on port $PORT too; pick another PORT"
sleep 0.5

# --- the client side -----------------------------------------------------------
cat > "$WORK/askpass" <<'EOF'
#!/bin/sh
printf '%s\n' "$FIXTURE_PW"
EOF
chmod 755 "$WORK/askpass"
GT="$WORK/ground-truth.jsonl"
: > "$GT"
STEP=0

# record ADDR USER ACTION EXPECT ATTEMPTS: one ground-truth line per client action.
record() {
    STEP=$((STEP + 1))
    jq -cn --argjson step "$STEP" --arg at "$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)" \
        --arg addr "$1" --arg user "$2" --arg action "$3" --arg expect "$4" --argjson attempts "$5" \
        '{step:$step, at:$at, addr:$addr, user:$user, action:$action, expect:$expect, attempts:$attempts}' >> "$GT"
}

# ssh_as ADDR USER PROMPTS [ssh options...]: one client connection.
ssh_as() {
    local addr=$1 user=$2 prompts=$3 q=\"
    shift 3
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
        echo "  IdentitiesOnly yes"
        echo "  NumberOfPasswordPrompts $prompts"
        echo "  ConnectTimeout 10"
        echo "  LogLevel ERROR"
    } > "$WORK/ssh_config"
    SSH_ASKPASS="$WORK/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=none \
        timeout 60 ssh -F "$WORK/ssh_config" "$@" target true </dev/null >/dev/null 2>&1 || true
    sleep 0.7   # let dropbear finish logging this connection before the next one
}

password() {
    FIXTURE_PW=$3 ssh_as "$1" "$2" "$4" -o PreferredAuthentications=password -o PubkeyAuthentication=no
}

hostile=(
    "o'brien"
    "x' from 203.0.113.7:22"
    'z from 198.51.100.1 port 22 ssh2'
)

for addr in 127.0.0.1 ::1; do
    record "$addr" "$TUSER" "1 wrong password, existing user" "Bad password attempt, Exit before auth (1 fails)" 1
    password "$addr" "$TUSER" wrong-1 1
    record "$addr" "$TUSER" "2 wrong passwords, existing user" "2x Bad password attempt, Exit before auth (2 fails)" 2
    password "$addr" "$TUSER" wrong-2 2
    record "$addr" root "1 password, root (-w)" "root login rejected, Exit before auth" 1
    password "$addr" root toor 1
    record "$addr" oracle "1 wrong password, nonexistent user" "Login attempt for nonexistent user, Exit before auth" 1
    password "$addr" oracle oracle 1
    for u in "${hostile[@]}"; do
        record "$addr" "$u" "1 wrong password, hostile nonexistent user name" "Login attempt for nonexistent user, Exit before auth" 1
        password "$addr" "$u" secret 1
    done
    record "$addr" "$TUSER" "3 wrong passwords, existing user: -T 3 exhausted" "3x Bad password attempt, Exit before auth: Max auth tries reached" 3
    password "$addr" "$TUSER" wrong-3 3
    record "$addr" "$TUSER" "client offers only diffie-hellman-group1-sha1" "Exit before auth: No matching algo kex" 1
    ssh_as "$addr" "$TUSER" 1 -o KexAlgorithms=diffie-hellman-group1-sha1
    record "$addr" "$TUSER" "client offers only aes128-cbc" "Exit before auth: No matching algo enc" 1
    ssh_as "$addr" "$TUSER" 1 -o Ciphers=aes128-cbc
    record "$addr" "" "HTTP request instead of an SSH banner" "Exit before auth" 0
    printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | timeout 10 nc -q 2 "$addr" "$PORT" >/dev/null 2>&1 || true
    sleep 0.7
    record "$addr" "" "TCP connect and close without a banner" "Exit before auth" 0
    timeout 10 nc -z "$addr" "$PORT" >/dev/null 2>&1 || true
    sleep 0.7
    record "$addr" "" "SSH banner then close" "Exit before auth" 0
    printf 'SSH-2.0-OpenSSH_9.9\r\n' | timeout 10 nc -q 1 "$addr" "$PORT" >/dev/null 2>&1 || true
    sleep 0.7
    record "$addr" "$TUSER" "publickey with a key that is not authorized" "Exit before auth (0 fails)" 0
    ssh_as "$addr" "$TUSER" 1 -o BatchMode=yes -o PreferredAuthentications=publickey -o IdentityFile="$WORK/other_ed25519"
    record "$addr" "$TUSER" "successful password login" "Password auth succeeded, Exit (user): Disconnect received" 0
    password "$addr" "$TUSER" "$TPASS" 1
    record "$addr" "$TUSER" "successful publickey login" "Pubkey auth succeeded, Exit (user): Disconnect received" 0
    ssh_as "$addr" "$TUSER" 1 -o BatchMode=yes -o PreferredAuthentications=publickey -o IdentityFile="$WORK/client_ed25519"
done

# --- stop, collect -------------------------------------------------------------
sleep 1
kill "$DROPBEAR_PID"; wait "$DROPBEAR_PID" 2>/dev/null || true; DROPBEAR_PID=
sleep 0.5
kill "$RSYSLOG_PID"; wait "$RSYSLOG_PID" 2>/dev/null || true; RSYSLOG_PID=
[ "$(stat -c %i /dev/log 2>/dev/null)" = "$DEVLOG_INO" ] && rm -f /dev/log
DEVLOG_INO=

mkdir -p "$OUT"
cp "$WORK/rfc3164.log" "$WORK/rfc3339.log" "$WORK/rfc5424.log" "$GT" "$OUT/"
{
    echo "recorded_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "debian=$(cat /etc/debian_version)"
    echo "dropbear_bin=$(dpkg-query -W -f='${Version}' dropbear-bin)"
    echo "dropbear=$(dropbear -V 2>&1 | head -1)"
    echo "dropbear_args=${DB_ARGS[*]}" | sed "s|$WORK|/tmp/sshmap-dropbear.XXXXXX|g"
    echo "openssh_client=$(dpkg-query -W -f='${Version}' openssh-client)"
    echo "rsyslog=$(dpkg-query -W -f='${Version}' rsyslog)"
    echo "kernel=$(uname -r)"
} > "$OUT/versions.txt"
echo "recorded $(wc -l < "$OUT/rfc3164.log") lines, $STEP client actions into $OUT" >&2
