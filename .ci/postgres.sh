#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the tests that need one.
#
# Sourced by .ci/run: exports INFLUENCE_TEST_POSTGRES_URL=postgresql://USER:PASS@127.0.0.1:PORT/DB
# (a user that may create databases: each test makes its own and drops it) and stops the
# server when the sourcing shell exits. Run directly, `bash .ci/postgres.sh CMD ARGS...` runs
# CMD with the variable set, then stops the server (without CMD it only starts and stops it).
#
# Nothing happens when INFLUENCE_TEST_POSTGRES_URL is already set. PostgreSQL comes from
# Debian's packages (installed only when no /usr/lib/postgresql/*/bin has initdb and pg_ctl).
# The cluster lives in a temporary folder owned by the `postgres` user, because PostgreSQL
# refuses to run as root. When the server cannot be had (not root, no apt-get, an install or
# start that fails), one line says why and the PostgreSQL tests skip, naming the variable.

_influence_pg_skip() {
    echo "PostgreSQL tests will be skipped: $1" >&2
    return 1
}

_influence_pg_bin() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x $dir/initdb && -x $dir/pg_ctl && -x $dir/psql ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

_influence_pg_install() {
    [[ $(id -u) == 0 ]] || _influence_pg_skip "PostgreSQL is not installed and installing it needs root." || return 1
    command -v apt-get >/dev/null || _influence_pg_skip "PostgreSQL is not installed and there is no apt-get to install it with." || return 1
    echo "Installing PostgreSQL from Debian's packages ..." >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >/tmp/influence-apt.log 2>&1; then
        _influence_pg_skip "apt-get install postgresql failed (log: /tmp/influence-apt.log)."
        return 1
    fi
}

_influence_pg_start() {
    local bin port pass setup_log
    command -v python3 >/dev/null || _influence_pg_skip "python3 is needed to pick a free port." || return 1
    bin=$(_influence_pg_bin) || { _influence_pg_install && bin=$(_influence_pg_bin); } || return 1
    [[ $(id -u) == 0 ]] || _influence_pg_skip "starting a throwaway cluster as the postgres user needs root." || return 1
    id postgres >/dev/null 2>&1 || _influence_pg_skip "there is no postgres user to run the server as." || return 1

    INFLUENCE_PG_DIR=$(mktemp -d /tmp/influence-pg.XXXXXX)
    chown postgres: "$INFLUENCE_PG_DIR"
    INFLUENCE_PG_CTL=$bin/pg_ctl
    setup_log=$INFLUENCE_PG_DIR/setup.log
    read -r port pass < <(python3 -c '
import secrets, socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1], secrets.token_hex(16))
')
    # cd first: the postgres user may not be allowed into the caller's folder (a clone
    # under /root), and initdb and pg_ctl complain when they cannot stat it.
    # fsync and friends off: a throwaway cluster need not survive a power cut, and the
    # tests commit thousands of small transactions on a shared, busy disk.
    if ! (
        cd "$INFLUENCE_PG_DIR" &&
            runuser -u postgres -- "$bin/initdb" -D data -U postgres --auth-local=trust \
                --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$setup_log" 2>&1 &&
            runuser -u postgres -- "$bin/pg_ctl" -D data -l server.log -w -t 60 start \
                -o "-p $port -k $INFLUENCE_PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
                >>"$setup_log" 2>&1 &&
            runuser -u postgres -- "$bin/psql" -h "$INFLUENCE_PG_DIR" -p "$port" -U postgres \
                -d postgres -q -v ON_ERROR_STOP=1 \
                -c "CREATE ROLE influence LOGIN CREATEDB PASSWORD '$pass'" \
                -c "CREATE DATABASE influence OWNER influence" >>"$setup_log" 2>&1
    ); then
        tail -n 5 "$setup_log" "$INFLUENCE_PG_DIR/server.log" >&2 2>/dev/null || true
        _influence_pg_stop
        _influence_pg_skip "the throwaway PostgreSQL server did not start (log above)."
        return 1
    fi
    export INFLUENCE_TEST_POSTGRES_URL="postgresql://influence:$pass@127.0.0.1:$port/influence"
    echo "PostgreSQL $("$bin/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port for the tests." >&2
}

_influence_pg_stop() {
    if [[ -n ${INFLUENCE_PG_DIR:-} && -d $INFLUENCE_PG_DIR ]]; then
        if [[ -f $INFLUENCE_PG_DIR/data/postmaster.pid ]]; then
            (cd "$INFLUENCE_PG_DIR" &&
                runuser -u postgres -- "$INFLUENCE_PG_CTL" -D data -m immediate -w stop >/dev/null 2>&1) || true
        fi
        rm -rf "$INFLUENCE_PG_DIR"
    fi
    INFLUENCE_PG_DIR=
}

if [[ -z ${INFLUENCE_TEST_POSTGRES_URL:-} ]]; then
    if _influence_pg_start; then
        trap _influence_pg_stop EXIT
    fi
fi

if [[ ${BASH_SOURCE[0]} == "$0" && $# -gt 0 ]]; then
    "$@"
fi
