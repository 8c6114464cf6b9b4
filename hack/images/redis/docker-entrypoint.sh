#!/bin/sh
# Entrypoint of the locally built redis:7 image (hack/images/build.sh), written for
# this project from the documented behaviour of the official image, not its code:
#   - a first argument that is a flag (-x, --x) or a config file (*.conf) means
#     "redis-server with these arguments";
#   - started as root to run redis-server, it gives the working directory (/data)
#     to the redis user and re-executes itself as redis (uid 999) with setpriv;
#   - an inherited umask of 0022 becomes 0077, so dumps and AOF files are private;
#   - protected mode is off unless the arguments or the config file set it (the
#     official image builds redis with it off: a container is reached through
#     its network, never on loopback only);
#   - then exec, so redis-server is PID 1 and gets the stop signal.
# Debian's /etc/redis/redis.conf (daemonize, log file) is not in the image:
# redis-server runs on its built-in defaults plus the given arguments.
set -e

case "$1" in
	-* | *.conf) set -- redis-server "$@" ;;
esac

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

if [ "$(umask)" = 0022 ]; then
	umask 0077
fi

if [ "$1" = redis-server ]; then
	mentions_protected_mode=
	for a in "$@"; do
		case "$a" in --protected-mode | protected-mode) mentions_protected_mode=1 ;; esac
	done
	case "$2" in
		*.conf)
			if [ -r "$2" ] && grep -qiE '^[[:space:]]*protected-mode' "$2"; then mentions_protected_mode=1; fi
			;;
	esac
	if [ -z "$mentions_protected_mode" ]; then
		set -- "$@" --protected-mode no
	fi
fi

exec "$@"
