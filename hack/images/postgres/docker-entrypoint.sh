#!/usr/bin/env bash
# Entrypoint of the locally built postgres:15 image (hack/images/build.sh), written
# for this project from the documented contract of the official image's entrypoint
# (the "Environment Variables", "Initialization scripts" and "Arbitrary --user"
# sections of its docs), not from its code:
#
#   POSTGRES_PASSWORD      superuser password; required unless
#                          POSTGRES_HOST_AUTH_METHOD=trust
#   POSTGRES_USER          superuser name (default postgres)
#   POSTGRES_DB            database created at init (default: the user's name)
#   POSTGRES_INITDB_ARGS   extra initdb arguments (split on spaces)
#   POSTGRES_INITDB_WALDIR separate WAL directory
#   POSTGRES_HOST_AUTH_METHOD  auth method for host connections from any address
#                          (default scram-sha-256)
#   PGDATA                 data directory (default /var/lib/postgresql/data)
#   <VAR>_FILE             read POSTGRES_PASSWORD/USER/DB/INITDB_ARGS from a file
#   /docker-entrypoint-initdb.d/*.sh, *.sql, *.sql.gz, *.sql.xz run once, in name
#   order, against a server that listens on the unix socket only (no TCP), so a
#   TCP readiness probe (pg_isready -h 127.0.0.1) cannot pass before init is done.
#
# Started as root, it fixes the ownership of PGDATA and re-executes itself as
# postgres (uid 999) with setpriv; started as any other uid it runs as that uid
# (an unknown uid gets a passwd entry through nss_wrapper, which initdb needs).
# The server ends up as PID 1 (exec), so it gets the container's stop signal.
set -Eeuo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*"; }
die() { log "error: $*" >&2; exit 1; }

# VAR_FILE=/path sets VAR from the file's content (for Docker/Kubernetes secrets).
file_env() {
	local var=$1 file_var="${1}_FILE" default=${2:-}
	if [[ -n "${!var:-}" && -n "${!file_var:-}" ]]; then
		die "both $var and $file_var are set; give only one"
	fi
	local val=$default
	if [[ -n "${!var:-}" ]]; then
		val=${!var}
	elif [[ -n "${!file_var:-}" ]]; then
		val=$(<"${!file_var}")
	fi
	export "$var"="$val"
	unset "$file_var"
}

# `docker run postgres -c shared_buffers=256MB` means postgres with those flags.
if [[ "${1:-}" == -* ]]; then
	set -- postgres "$@"
fi

setup_env() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
	: "${PGDATA:=/var/lib/postgresql/data}"
	export PGDATA
	DATABASE_ALREADY_EXISTS=
	[[ -s "$PGDATA/PG_VERSION" ]] && DATABASE_ALREADY_EXISTS=true
	return 0
}

# Directories the server needs, owned by the user it runs as. As root this also
# chowns; as another user it can only create and chmod what it owns.
create_dirs() {
	local uid
	uid=$(id -u)
	mkdir -p "$PGDATA"
	chmod 00700 "$PGDATA" || :
	mkdir -p /var/run/postgresql || :
	chmod 03775 /var/run/postgresql || :
	if [[ -n "${POSTGRES_INITDB_WALDIR:-}" ]]; then
		mkdir -p "$POSTGRES_INITDB_WALDIR"
		[[ "$uid" == 0 ]] && find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres '{}' +
		chmod 700 "$POSTGRES_INITDB_WALDIR"
	fi
	if [[ "$uid" == 0 ]]; then
		find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
		find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
	fi
}

# initdb looks up the current user's name; a uid that is not in /etc/passwd (e.g.
# `--user 12345`) gets one through nss_wrapper, for the initdb run only.
with_user_entry() {
	if id -un >/dev/null 2>&1; then
		"$@"
		return
	fi
	local wrapper
	wrapper=$(find /usr/lib -name libnss_wrapper.so -print -quit)
	[[ -n "$wrapper" ]] || die "uid $(id -u) has no /etc/passwd entry and libnss_wrapper.so is missing"
	local dir
	dir=$(mktemp -d)
	printf 'postgres:x:%s:%s:PostgreSQL:%s:/bin/false\n' "$(id -u)" "$(id -g)" "$PGDATA" >"$dir/passwd"
	printf 'postgres:x:%s:\n' "$(id -g)" >"$dir/group"
	LD_PRELOAD="$wrapper" NSS_WRAPPER_PASSWD="$dir/passwd" NSS_WRAPPER_GROUP="$dir/group" "$@"
	rm -rf "$dir"
}

init_database_dir() {
	if [[ -z "${POSTGRES_PASSWORD:-}" && "$POSTGRES_HOST_AUTH_METHOD" != trust ]]; then
		die "the database is uninitialized and POSTGRES_PASSWORD is not set.
  Set POSTGRES_PASSWORD to a non-empty superuser password (or POSTGRES_PASSWORD_FILE to a
  file holding it), or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without one."
	fi
	local args=()
	[[ -n "${POSTGRES_INITDB_WALDIR:-}" ]] && args+=(--waldir "$POSTGRES_INITDB_WALDIR")
	# The password goes through a pipe named on the command line, never the value itself.
	# Local (unix socket) connections are trusted, as inside the official image;
	# every TCP connection, 127.0.0.1 included, needs the password.
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is split on purpose
	with_user_entry initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
		--auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" "${args[@]}" $POSTGRES_INITDB_ARGS
	# initdb only writes rules for 127.0.0.1 and ::1; add every other address.
	printf '\n# added by docker-entrypoint.sh: any address, with the password\nhost all all all %s\n' \
		"$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
	if [[ "$POSTGRES_HOST_AUTH_METHOD" == trust ]]; then
		log "warning: POSTGRES_HOST_AUTH_METHOD=trust: anyone who reaches the port connects without a password"
	fi
}

# The init-time server: unix socket only (listen_addresses=''), so no TCP client
# and no TCP readiness probe sees it. Its socket is for $PGPORT (default 5432).
temp_server_start() {
	PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -p ${PGPORT:-5432}" start
}
temp_server_stop() {
	PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -m fast -w stop
}

psql_init() {
	PGHOST=/var/run/postgresql PGPORT=${PGPORT:-5432} psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
		--username "$POSTGRES_USER" "$@"
}

create_database() {
	if [[ "$POSTGRES_DB" == postgres ]]; then return; fi
	local exists
	exists=$(psql_init --dbname postgres -tA --set db="$POSTGRES_DB" <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
	if [[ -z "$exists" ]]; then
		psql_init --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
		log "created database $POSTGRES_DB"
	fi
}

run_init_scripts() {
	local f
	shopt -s nullglob
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh)
				# Executable scripts run on their own; others are sourced (they see our functions).
				if [[ -x "$f" ]]; then
					log "running $f"; "$f"
				else
					log "sourcing $f"; # shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql) log "running $f"; psql_init --dbname "$POSTGRES_DB" -f "$f" ;;
			*.sql.gz) log "running $f"; gunzip -c "$f" | psql_init --dbname "$POSTGRES_DB" ;;
			*.sql.xz) log "running $f"; xzcat "$f" | psql_init --dbname "$POSTGRES_DB" ;;
			*) log "ignoring $f" ;;
		esac
	done
	shopt -u nullglob
}

main() {
	if [[ "${1:-}" != postgres ]]; then
		exec "$@" # any other command (bash, psql, ...) runs as given
	fi
	setup_env
	if [[ "$(id -u)" == 0 ]]; then
		create_dirs
		# Same uid as the files; setpriv (util-linux) instead of gosu.
		exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
	fi
	create_dirs
	if [[ -z "$DATABASE_ALREADY_EXISTS" ]]; then
		# A half-done init (e.g. killed during initdb) must not look like a database:
		# only PG_VERSION marks one, and initdb refuses a non-empty directory.
		if [[ -n "$(ls -A "$PGDATA")" ]]; then
			die "$PGDATA is not empty but holds no database (no PG_VERSION); remove its contents to initialize"
		fi
		log "initializing a new database in $PGDATA as uid $(id -u)"
		init_database_dir
		temp_server_start
		create_database
		run_init_scripts
		temp_server_stop
		log "initialization complete; starting the server"
	else
		log "$PGDATA holds a database (PG_VERSION $(<"$PGDATA/PG_VERSION")); skipping initialization"
	fi
	# Secrets stay out of the server's environment.
	unset POSTGRES_PASSWORD
	exec "$@"
}

main "$@"
