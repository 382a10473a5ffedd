#!/bin/sh
# Installs (if needed) and starts a local PostgreSQL for the store tests, creates
# the role and database, and prints the variable the test suite reads:
#
#     eval "$(scripts/test-pg.sh)"     # exports SSHMAP_TEST_PG
#     cargo test --test integration store::
#
# Needs root (apt-get, pg_ctlcluster). The server listens on localhost only.
# With SSHMAP_TEST_PG set, the PostgreSQL tests fail (never skip) if the server
# cannot be reached.
set -eu
ROLE=${SSHMAP_PG_ROLE:-sshmap}
PASS=${SSHMAP_PG_PASSWORD:-sshmap}
DB=${SSHMAP_PG_DB:-sshmap_test}

if ! command -v pg_lsclusters >/dev/null 2>&1; then
    echo "test-pg: installing postgresql" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
fi
VERSION=$(pg_lsclusters -h | awk 'NR==1 {print $1}')
if [ -z "$VERSION" ]; then
    echo "test-pg: no PostgreSQL cluster found (pg_lsclusters is empty)" >&2
    exit 1
fi
if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
    echo "test-pg: starting cluster $VERSION/main" >&2
    pg_ctlcluster "$VERSION" main start >&2
fi
psql_su() { su postgres -c "psql -v ON_ERROR_STOP=1 -qAt $*"; }
if [ "$(psql_su "-c \"SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'\"")" != 1 ]; then
    psql_su "-c \"CREATE ROLE $ROLE LOGIN PASSWORD '$PASS'\"" >&2
fi
if [ "$(psql_su "-c \"SELECT 1 FROM pg_database WHERE datname = '$DB'\"")" != 1 ]; then
    psql_su "-c \"CREATE DATABASE $DB OWNER $ROLE\"" >&2
fi
echo "export SSHMAP_TEST_PG=postgres://$ROLE:$PASS@127.0.0.1/$DB"
