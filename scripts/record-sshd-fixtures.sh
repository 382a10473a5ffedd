#!/usr/bin/env bash
# Records real OpenSSH auth logs for sshmap's test fixtures.
#
# Runs a private rsyslogd (listening on /dev/log) that writes the same auth
# events in three envelopes (RFC 3164, RFC 3339 high precision, RFC 5424),
# starts a private sshd on 127.0.0.1/::1, attacks it with the real OpenSSH
# client, and writes what it did to ground-truth.jsonl.
#
# Usage (Debian, as root):   scripts/record-sshd-fixtures.sh [OUTDIR]
#   OUTDIR defaults to tests/fixtures/openssh. PORT (default 2222) and
#   LOGLEVEL (default INFO) may be set in the environment.
#
# It refuses to run when something already owns /dev/log, starts nothing it
# does not stop, and removes the throwaway user, /dev/log and /run/sshd (if it
# created them) on exit, whatever happens.
set -euo pipefail

export TZ=UTC LC_ALL=C.UTF-8
OUT=$(realpath -m "${1:-tests/fixtures/openssh}")
PORT=${PORT:-2222}
LOGLEVEL=${LOGLEVEL:-INFO}
TUSER=sshmapfx            # the throwaway account that really exists
TPASS='Corr3ct-horse-battery'

die() { echo "record-sshd-fixtures: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (it installs packages, adds a user, binds /dev/log)"
[ -r /etc/debian_version ] || die "needs Debian (apt-get, Debian's sshd PAM configuration)"

# --- packages ---------------------------------------------------------------
# policy-rc.d keeps the packages' postinst from starting the system sshd/rsyslogd.
POLICY_CREATED=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    POLICY_CREATED=1
fi
need=()
for p in openssh-server openssh-client rsyslog netcat-openbsd jq; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}"
fi
[ -n "$POLICY_CREATED" ] && rm -f /usr/sbin/policy-rc.d

[ -e /dev/log ] && die "/dev/log exists: another syslog daemon owns it; stop it first (this script needs its own)"
ip -6 addr show lo | grep -q '::1' || die "no ::1 on lo"

WORK=$(mktemp -d /tmp/sshmap-fixtures.XXXXXX)
chmod 755 "$WORK"
RSYSLOG_PID= SSHD_PID= USER_CREATED= RUN_SSHD_CREATED= DEVLOG_INO=

cleanup() {
    set +e
    if [ -n "$SSHD_PID" ]; then kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null; fi
    if [ -n "$RSYSLOG_PID" ]; then kill "$RSYSLOG_PID" 2>/dev/null; wait "$RSYSLOG_PID" 2>/dev/null; fi
    # Remove /dev/log only if it is still the socket our rsyslogd made.
    [ -n "$DEVLOG_INO" ] && [ "$(stat -c %i /dev/log 2>/dev/null)" = "$DEVLOG_INO" ] && rm -f /dev/log
    [ -n "$USER_CREATED" ] && userdel -r "$TUSER" 2>/dev/null
    [ -n "$RUN_SSHD_CREATED" ] && rmdir /run/sshd 2>/dev/null
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

# --- sshd ---------------------------------------------------------------------
[ -d /run/sshd ] || { mkdir -p -m 755 /run/sshd; RUN_SSHD_CREATED=1; }
ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh_host_ed25519_key"
ssh-keygen -q -t ecdsa -N '' -f "$WORK/ssh_host_ecdsa_key"
cat > "$WORK/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
ListenAddress ::1
HostKey $WORK/ssh_host_ed25519_key
HostKey $WORK/ssh_host_ecdsa_key
PidFile $WORK/sshd.pid
SyslogFacility AUTH
LogLevel $LOGLEVEL
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PermitRootLogin no
DenyUsers daemon
MaxAuthTries 3
MaxStartups 100
UseDNS no
PrintMotd no
EOF
if /usr/sbin/sshd -T -f "$WORK/sshd_config" -o PerSourcePenalties=no >/dev/null 2>&1; then
    echo "PerSourcePenalties no" >> "$WORK/sshd_config"
fi
/usr/sbin/sshd -t -f "$WORK/sshd_config"
/usr/sbin/sshd -D -f "$WORK/sshd_config" &
SSHD_PID=$!
# Wait for both of *our* listeners without connecting (a probe would be logged).
listening() { ss -Hltnp "sport = :$PORT" | grep -c "pid=$SSHD_PID,"; }
for _ in $(seq 100); do
    [ "$(listening)" -ge 2 ] && break
    kill -0 "$SSHD_PID" 2>/dev/null || die "sshd exited (see its messages above)"
    sleep 0.1
done
[ "$(listening)" -ge 2 ] || die "our sshd is not listening on 127.0.0.1 and ::1 port $PORT (port taken? pick another PORT)"
# Something else on the port (a wildcard listener) would take some connections.
[ "$(ss -Hltn "sport = :$PORT" | wc -l)" -eq 2 ] || die "another process listens on port $PORT too; pick another PORT"
sleep 0.5

# --- the client side -----------------------------------------------------------
# Passwords come from SSH_ASKPASS (one call per prompt), so one connection can
# try several; every attempt gets its own ssh_config so hostile user names need
# no command-line quoting (ssh refuses shell metacharacters in -l).
cat > "$WORK/askpass" <<'EOF'
#!/bin/sh
printf '%s\n' "$FIXTURE_PW"
EOF
chmod 755 "$WORK/askpass"
GT="$WORK/ground-truth.jsonl"
: > "$GT"
STEP=0

# record ADDR USER ACTION EXPECT ATTEMPTS [ATTEMPTS_AT_VERBOSE]: one ground-truth
# line per client action. ATTEMPTS: the attack attempts DESIGN §2 counts for
# what sshd logs of it at LogLevel INFO (some failures are logged only at VERBOSE).
record() {
    STEP=$((STEP + 1))
    local attempts=$5
    [ "$LOGLEVEL" = INFO ] || attempts=${6:-$5}
    jq -cn --argjson step "$STEP" --arg at "$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)" \
        --arg addr "$1" --arg user "$2" --arg action "$3" --arg expect "$4" --argjson attempts "$attempts" \
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
    sleep 0.7   # let sshd finish logging this connection before the next one
}

# password ADDR USER PW TRIES: TRIES password attempts in one connection.
password() {
    FIXTURE_PW=$3 ssh_as "$1" "$2" "$4" -o PreferredAuthentications=password -o PubkeyAuthentication=no
}

hostile=(
    'admin user'
    "o'brien"
    'say "hi"'
    '<script>alert(1)</script>'
    '<img src=x onerror=alert(1)>'
    'x from 203.0.113.7'
    'y port 22 ssh2'
    'z from 198.51.100.1 port 22 ssh2'
    'jösé'
    '用户'
)

for addr in 127.0.0.1 ::1; do
    record "$addr" "$TUSER" "1 wrong password, existing user" "Failed password, Connection closed by authenticating user" 1
    password "$addr" "$TUSER" wrong-1 1
    record "$addr" "$TUSER" "2 wrong passwords, existing user" "2x Failed password, Connection closed by authenticating user" 2
    password "$addr" "$TUSER" wrong-2 2
    record "$addr" root "1 wrong password, root (PermitRootLogin no)" "Failed password for root" 1
    password "$addr" root toor 1
    record "$addr" daemon "1 password, user in DenyUsers" "User daemon from ADDR not allowed because listed in DenyUsers; Failed password for invalid user daemon" 2
    password "$addr" daemon daemon 1
    record "$addr" oracle "1 wrong password, invalid user" "Invalid user, Failed password for invalid user" 1
    password "$addr" oracle oracle 1
    for u in "${hostile[@]}"; do
        record "$addr" "$u" "1 wrong password, hostile invalid user name" "Invalid user, Failed password for invalid user" 1
        password "$addr" "$u" secret 1
    done
    record "$addr" "$TUSER" "3 wrong passwords, existing user: MaxAuthTries 3 exhausted" "3x Failed password, maximum authentication attempts exceeded, Disconnecting: Too many authentication failures" 3
    password "$addr" "$TUSER" wrong-3 3
    record "$addr" guest "3 wrong passwords, invalid user: MaxAuthTries 3 exhausted" "3x Failed password for invalid user, maximum authentication attempts exceeded" 3
    password "$addr" guest guest 3
    record "$addr" "$TUSER" "client offers only diffie-hellman-group1-sha1" "Unable to negotiate: no matching key exchange method" 1
    ssh_as "$addr" "$TUSER" 1 -o KexAlgorithms=diffie-hellman-group1-sha1
    record "$addr" "$TUSER" "client offers only 3des-cbc" "Unable to negotiate: no matching cipher" 1
    ssh_as "$addr" "$TUSER" 1 -o Ciphers=3des-cbc
    record "$addr" "" "HTTP request instead of an SSH banner" "kex_exchange_identification: invalid protocol identifier; banner exchange: invalid format" 1
    printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | timeout 10 nc -q 2 "$addr" "$PORT" >/dev/null 2>&1 || true
    sleep 0.7
    record "$addr" "" "TCP connect and close without a banner" "kex_exchange_identification: Connection closed by remote host" 1
    timeout 10 nc -z "$addr" "$PORT" >/dev/null 2>&1 || true
    sleep 0.7
    record "$addr" "" "SSH banner then close" "Connection closed by ADDR port N [preauth]" 0
    printf 'SSH-2.0-OpenSSH_9.9\r\n' | timeout 10 nc -q 1 "$addr" "$PORT" >/dev/null 2>&1 || true
    sleep 0.7
    record "$addr" "$TUSER" "no usable auth method (BatchMode, no keys): closed before auth" "Connection closed by authenticating user" 0
    ssh_as "$addr" "$TUSER" 1 -o BatchMode=yes -o PubkeyAuthentication=no
    record "$addr" nosuchuser "no usable auth method, invalid user: closed before auth" "Invalid user, Connection closed by invalid user" 0
    ssh_as "$addr" nosuchuser 1 -o BatchMode=yes -o PubkeyAuthentication=no
    record "$addr" "$TUSER" "publickey with a key that is not authorized" "Failed publickey (VERBOSE only), Connection closed by authenticating user" 0 1
    ssh_as "$addr" "$TUSER" 1 -o BatchMode=yes -o PreferredAuthentications=publickey -o IdentityFile="$WORK/other_ed25519"
    record "$addr" "$TUSER" "successful password login" "Accepted password" 0
    password "$addr" "$TUSER" "$TPASS" 1
    record "$addr" "$TUSER" "successful publickey login" "Accepted publickey" 0
    ssh_as "$addr" "$TUSER" 1 -o BatchMode=yes -o PreferredAuthentications=publickey -o IdentityFile="$WORK/client_ed25519"
done

# --- stop, collect -------------------------------------------------------------
sleep 1
kill "$SSHD_PID"; wait "$SSHD_PID" 2>/dev/null || true; SSHD_PID=
sleep 0.5
kill "$RSYSLOG_PID"; wait "$RSYSLOG_PID" 2>/dev/null || true; RSYSLOG_PID=
[ "$(stat -c %i /dev/log 2>/dev/null)" = "$DEVLOG_INO" ] && rm -f /dev/log
DEVLOG_INO=

mkdir -p "$OUT"
cp "$WORK/rfc3164.log" "$WORK/rfc3339.log" "$WORK/rfc5424.log" "$GT" "$OUT/"
cp "$WORK/sshd_config" "$OUT/sshd_config.txt"
sed -i "s|$WORK|/tmp/sshmap-fixtures.XXXXXX|g" "$OUT/sshd_config.txt"
{
    echo "recorded_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "debian=$(cat /etc/debian_version)"
    echo "openssh_server=$(dpkg-query -W -f='${Version}' openssh-server)"
    echo "openssh_client=$(dpkg-query -W -f='${Version}' openssh-client)"
    echo "sshd=$(/usr/sbin/sshd -V 2>&1 | head -1)"
    echo "rsyslog=$(dpkg-query -W -f='${Version}' rsyslog)"
    echo "libpam=$(dpkg-query -W -f='${Version}' libpam-modules)"
    echo "kernel=$(uname -r)"
    echo "loglevel=$LOGLEVEL"
} > "$OUT/versions.txt"
echo "recorded $(wc -l < "$OUT/rfc3164.log") lines, $STEP client actions into $OUT" >&2
