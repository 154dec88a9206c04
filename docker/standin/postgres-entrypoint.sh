#!/usr/bin/env bash
# The official postgres image's contract, as far as docker-compose.yaml uses it: on an empty
# PGDATA, a cluster whose superuser is POSTGRES_USER with POSTGRES_PASSWORD, the scripts in
# /docker-entrypoint-initdb.d/*.sh run once against it, and a server on every address that asks
# for passwords over TCP and trusts the local socket.
set -euo pipefail

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

export POSTGRES_USER=${POSTGRES_USER:-postgres}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?the stand-in, like the official image, needs POSTGRES_PASSWORD}"
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 -D "$PGDATA"
    printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    # Socket only while the init scripts run: nothing connects over TCP to a half-made cluster.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    for script in /docker-entrypoint-initdb.d/*.sh; do
        [ -e "$script" ] || continue
        echo "docker-entrypoint: running $script"
        bash "$script"
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
fi
exec "$@"
