#!/usr/bin/env bash
# Builds the container images the end-to-end tests run, on this machine, from
# Debian bookworm packages (mmdebstrap) and pinned PyPI wheels: there is no Docker
# engine and no registry to pull from. Each image is a docker-archive tar
# (hack/images/pack.sh) that `ctr images import` loads under the very name the
# operator renders, so the kubelet finds it and never pulls (imagePullPolicy
# IfNotPresent, the default for a non-latest tag).
#
#   hack/images/build.sh [build] [IMAGE...]   build what is missing; print the folder last
#   hack/images/build.sh import --address SOCK [IMAGE...]
#                                             build if needed, then import into containerd
#                                             (hack/images/import.sh, namespace k8s.io)
#   hack/images/build.sh dir                  print the folder for the current inputs
#   hack/images/build.sh list                 IMAGE names and the references they carry
#   hack/images/build.sh verify               build, then run hack/images/verify.sh
#
# IMAGE is one of: postgres redis flower app (default: all of them).
#
#   postgres  docker.io/library/postgres:15        postgresql-15 + own entrypoint (postgres/)
#   redis     docker.io/library/redis:7            redis-server 7.0 + own entrypoint (redis/)
#   flower    docker.io/mher/flower:2.0            python3 + flower 2.0.1 (flower/requirements.txt)
#   app       ghcr.io/finwise/backend:1.4.2        python3 + the fixture app (test/e2e/app/)
#
# Cache: ${BACKENDAPP_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/backendapp-operator}/images/
#   <key>/               one folder per set of inputs: IMAGE.tar and images.txt
#                        ("IMAGE.tar REFERENCE" lines); <key> hashes the inputs of
#                        every image in it, so a second run builds nothing and a
#                        changed recipe, entrypoint, requirement or app file
#                        builds again (only the images whose inputs changed).
#   parts/IMAGE-<k>.tar  each image by its own input hash (hard-linked into <key>/)
#   debs/, wheels/       downloaded .deb and .whl files, so a rebuild downloads
#                        only what changed
# Not inputs: the Debian archive itself (a rebuild picks up security updates);
# BACKENDAPP_IMAGES_REBUILD=1 forces a rebuild of the named images.
#
# Needs root (mmdebstrap's root mode, chroot), mmdebstrap, jq, python3 with pip on
# the host (only to download wheels; the images use Debian's python3), and
# network access to Debian's archive and PyPI.
# Time (2 cores): about 3.5-4 min from an empty cache (40-60 s per image, mostly
# mmdebstrap; ~110 MB of .debs and ~20 MB of wheels downloaded), under a minute
# when one image's inputs changed, and well under a second when nothing did.
# Sizes (uncompressed tar): postgres ~190 MB, redis ~120 MB, flower ~180 MB, app ~200 MB.
# The layers are reproducible: the same inputs and Debian packages give the same
# digests. hack/images/verify.sh runs every image as its pod would, without a kubelet.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${BACKENDAPP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/backendapp-operator}/images
suite=bookworm
all_images=(postgres redis flower app)

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

ref_of() {
	case "$1" in
		postgres) echo docker.io/library/postgres:15 ;;
		redis) echo docker.io/library/redis:7 ;;
		flower) echo docker.io/mher/flower:2.0 ;;
		app) echo ghcr.io/finwise/backend:1.4.2 ;;
		*) die "unknown image $1 (one of: ${all_images[*]})" ;;
	esac
}

# The files an image is built from. This script and pack.sh count for every image.
inputs_of() {
	local name=$1
	printf '%s\n' "$here/build.sh" "$here/pack.sh"
	case "$name" in
		postgres | redis | flower) find "$here/$name" -type f ;;
		app) find "$repo/test/e2e/app" -type f \( -name '*.py' -o -name requirements.txt \) ;;
	esac | LC_ALL=C sort
}

# sha256 over the inputs' paths (relative to the repo) and contents, and the
# reference; 16 hex digits are plenty to tell builds apart.
key_of() {
	local name=$1 f
	{
		ref_of "$name"
		while read -r f; do
			printf '%s %s\n' "${f#"$repo"/}" "$(sha256sum <"$f" | cut -d' ' -f1)"
		done < <(inputs_of "$name")
	} | sha256sum | cut -c1-16
}

set_key() {
	local n
	for n in "$@"; do printf '%s %s\n' "$n" "$(key_of "$n")"; done | sha256sum | cut -c1-16
}

# ---------------------------------------------------------------------------
# Root filesystems. Each recipe_<image> sets the mmdebstrap package list, the
# hooks that shape the tree, and the image config (pack.sh's CONFIG).

# Files nobody reads in a container: docs (but not the licences), man pages,
# translations.
dpkg_excludes=(
	--dpkgopt=force-unsafe-io
	--dpkgopt='path-exclude=/usr/share/doc/*'
	--dpkgopt='path-include=/usr/share/doc/*/copyright'
	--dpkgopt='path-exclude=/usr/share/man/*'
	--dpkgopt='path-exclude=/usr/share/info/*'
	--dpkgopt='path-exclude=/usr/share/lintian/*'
	--dpkgopt='path-exclude=/usr/share/locale/*'
	--dpkgopt='path-include=/usr/share/locale/locale.alias'
)

# A system user and group with a fixed id, added before the packages are installed
# so their maintainer scripts (adduser) find and keep it.
add_user() { # ROOT NAME ID HOME SHELL
	local root=$1 name=$2 id=$3 home=$4 shell=$5
	grep -q "^$name:" "$root/etc/group" || echo "$name:x:$id:" >>"$root/etc/group"
	grep -q "^$name:" "$root/etc/passwd" || echo "$name:x:$id:$id::$home:$shell" >>"$root/etc/passwd"
	if [[ -f "$root/etc/shadow" ]] && ! grep -q "^$name:" "$root/etc/shadow"; then
		echo "$name:*:19000:0:99999:7:::" >>"$root/etc/shadow"
	fi
}

# Common last steps: no host identity in the image, no apt state.
finish_rootfs() {
	local root=$1
	# mmdebstrap keeps /run (--skip=cleanup/run) for directories an image needs
	# there; the rest is state of the build.
	find "$root/run" -mindepth 1 -maxdepth 1 \! -name lock \! -name postgresql -exec rm -rf '{}' +
	: >"$root/etc/resolv.conf"
	echo localhost >"$root/etc/hostname"
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
		"$root"/var/log/*.log "$root"/var/log/apt "$root"/root/.cache "$root"/tmp/* "$root"/var/tmp/*
}

recipe_postgres() {
	variant=essential
	include=postgresql-15,libnss-wrapper,locales,xz-utils
	config=$(jq -nc '{
		Entrypoint: ["docker-entrypoint.sh"], Cmd: ["postgres"],
		Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/lib/postgresql/15/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		      "LANG=en_US.utf8", "PG_MAJOR=15", "PGDATA=/var/lib/postgresql/data"],
		StopSignal: "SIGINT", ExposedPorts: {"5432/tcp": {}},
		Volumes: {"/var/lib/postgresql/data": {}}}')
}
essential_postgres() { add_user "$1" postgres 999 /var/lib/postgresql /bin/bash; }
customize_postgres() {
	local root=$1
	# The package's main cluster: the entrypoint makes its own in PGDATA.
	rm -rf "$root"/etc/postgresql/15/main "$root"/var/lib/postgresql/15
	sed -ri 's/#?(create_main_cluster) .*$/\1 = false/' "$root/etc/postgresql-common/createcluster.conf"
	# New clusters listen on every address (the init-time server overrides it).
	sed -ri "s/^#?(listen_addresses)\s*=\s*\S+.*/\1 = '*'/" "$root/usr/share/postgresql/15/postgresql.conf.sample"
	grep -q "^listen_addresses = '\*'" "$root/usr/share/postgresql/15/postgresql.conf.sample"
	# The official image's locale (LANG=en_US.utf8), so initdb makes UTF8 databases.
	chroot "$root" localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8
	rm -rf "$root"/usr/share/i18n/charmaps "$root"/usr/share/i18n/locales
	# JIT: libLLVM and the bitcode are 130 MB; without llvmjit.so PostgreSQL just
	# runs without JIT (jit_provider fails to load, silently).
	rm -rf "$root"/usr/lib/postgresql/15/lib/bitcode "$root"/usr/lib/postgresql/15/lib/llvmjit*
	rm -f "$root"/usr/lib/x86_64-linux-gnu/libLLVM-*.so* "$root"/usr/lib/x86_64-linux-gnu/libz3.so*
	# ssl-cert's install-time key pair: random (the image would differ on every
	# build) and unused (initdb leaves ssl off). A server that wants TLS mounts its own.
	rm -f "$root"/etc/ssl/private/ssl-cert-snakeoil.key "$root"/etc/ssl/certs/ssl-cert-snakeoil.pem
	# Socket directory: any uid can use it (sticky, like /tmp), setgid for the group.
	# (/run, not /var/run: that is an absolute symlink, which outside the chroot
	# would lead to the host's /run.)
	mkdir -p "$root/run/postgresql" "$root/var/lib/postgresql/data" "$root/docker-entrypoint-initdb.d"
	chown 999:999 "$root/run/postgresql" "$root/var/lib/postgresql" "$root/var/lib/postgresql/data"
	chmod 3777 "$root/run/postgresql"
	chmod 1777 "$root/var/lib/postgresql/data"
	install -m 0755 "$here/postgres/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
	finish_rootfs "$root"
}

recipe_redis() {
	variant=essential
	include=redis-server,redis-tools
	config=$(jq -nc '{
		Entrypoint: ["docker-entrypoint.sh"], Cmd: ["redis-server"], WorkingDir: "/data",
		ExposedPorts: {"6379/tcp": {}}, Volumes: {"/data": {}}}')
}
essential_redis() { add_user "$1" redis 999 /data /usr/sbin/nologin; }
customize_redis() {
	local root=$1
	# Debian's config daemonizes and logs to a file; the image runs redis-server on
	# its built-in defaults, like the official one. /etc/redis stays for mounts.
	rm -f "$root"/etc/redis/redis.conf "$root"/etc/redis/sentinel.conf
	rm -rf "$root"/etc/redis/redis-server.*.d "$root"/etc/redis/redis-sentinel.*.d
	mkdir -p "$root/data"
	chown 999:999 "$root/data"
	install -m 0755 "$here/redis/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
	finish_rootfs "$root"
}

python_env='"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
	"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"'

recipe_flower() {
	variant=essential
	include=python3,tzdata,ca-certificates
	requirements=$here/flower/requirements.txt
	config=$(jq -nc "{
		Cmd: [\"celery\", \"flower\"], User: \"flower\", WorkingDir: \"/data\",
		Env: [$python_env, \"FLOWER_DATA_DIR=/data\"],
		ExposedPorts: {\"5555/tcp\": {}}}")
}
essential_flower() { add_user "$1" flower 1000 /home/flower /bin/sh; }
customize_flower() {
	local root=$1
	install_wheels "$root"
	mkdir -p "$root/data" "$root/home/flower"
	chown 1000:1000 "$root/data" "$root/home/flower"
	compile_python "$root"
	finish_rootfs "$root"
}

recipe_app() {
	variant=essential
	include=python3,tzdata,ca-certificates
	requirements=$repo/test/e2e/app/requirements.txt
	config=$(jq -nc "{
		Cmd: [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\", \"--port\", \"8000\"],
		User: \"1000:1000\", WorkingDir: \"/app\",
		Env: [$python_env, \"PYTHONPATH=/app\"],
		ExposedPorts: {\"8000/tcp\": {}}}")
}
essential_app() { add_user "$1" app 1000 /app /usr/sbin/nologin; }
customize_app() {
	local root=$1
	install_wheels "$root"
	mkdir -p "$root/app/app"
	# Only the package: root-owned and read-only for the app user.
	cp "$repo"/test/e2e/app/app/*.py "$root/app/app/"
	chmod 0755 "$root/app" "$root/app/app"
	chmod 0644 "$root"/app/app/*.py
	compile_python "$root" /app
	finish_rootfs "$root"
}

# Installs the image's pinned wheels (downloaded beforehand by fetch_wheels) with
# the image's own python3, so scripts (celery, uvicorn) get its shebang and land in
# /usr/local/bin. pip runs from its wheel and is not left in the image.
install_wheels() {
	local root=$1
	mkdir -p "$root/tmp/wheels"
	cp "$wheel_dir"/*.whl "$root/tmp/wheels/"
	cp "$requirements" "$root/tmp/wheels/requirements.txt"
	# shellcheck disable=SC2016 # expanded by the chroot's sh
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 chroot "$root" \
		sh -c 'set -- /tmp/wheels/pip-*.whl && python3 "$1/pip" install --quiet --no-index --find-links /tmp/wheels \
			--no-cache-dir --break-system-packages --root-user-action=ignore --no-compile \
			--disable-pip-version-check --no-warn-script-location -r /tmp/wheels/requirements.txt'
	rm -rf "$root/tmp/wheels"
}

# The layer is packed with every mtime set to 0 (reproducible), which would make
# timestamp-based .pyc files stale: every process would compile all it imports
# again, and could not cache it on a read-only root. Hash-based .pyc files that
# are never re-checked stay valid.
compile_python() {
	local root=$1
	shift
	find "$root/usr" -name '__pycache__' -type d -prune -exec rm -rf '{}' +
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 chroot "$root" \
		python3 -m compileall -q -j 0 --invalidation-mode unchecked-hash \
		/usr/lib/python3.11 /usr/lib/python3/dist-packages /usr/local/lib/python3.11/dist-packages "$@" >/dev/null
}

# Pinned wheels for Debian bookworm's CPython 3.11 on amd64 (glibc 2.36), fetched
# by the host's pip into a folder keyed by the requirements file, plus pip's own
# wheel to run the install inside the image.
fetch_wheels() {
	local name=$1 key
	key=$(sha256sum "$requirements" | cut -c1-16)
	wheel_dir=$cache/wheels/$name-$key
	[[ -f "$wheel_dir/.complete" ]] && return
	log "$name: downloading wheels into $wheel_dir"
	rm -rf "$wheel_dir"
	mkdir -p "$wheel_dir"
	local plat=(--only-binary=:all: --implementation cp --python-version 3.11 --abi cp311
		--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64
		--platform manylinux_2_31_x86_64 --platform manylinux_2_34_x86_64)
	python3 -m pip download --quiet --no-deps "${plat[@]}" -d "$wheel_dir" -r "$requirements" 'pip==26.3'
	touch "$wheel_dir/.complete"
}

# Runs inside mmdebstrap as a hook: build.sh hook STAGE IMAGE ROOT.
run_hook() {
	local stage=$1 name=$2 root=$3
	"recipe_$name"
	if [[ -n "${requirements:-}" ]]; then wheel_dir=$BUILD_WHEEL_DIR; fi
	"${stage}_$name" "$root"
}

build_one() {
	local name=$1 key out ref
	key=$(key_of "$name")
	out=$cache/parts/$name-$key.tar
	ref=$(ref_of "$name")
	if [[ -s "$out" && -z "${BACKENDAPP_IMAGES_REBUILD:-}" ]]; then
		log "$name: cached ($out)"
		return
	fi
	local variant include config requirements='' wheel_dir=''
	"recipe_$name"
	[[ -n "$requirements" ]] && fetch_wheels "$name"
	local start=$SECONDS tmp
	mkdir -p "$cache/parts" "$cache/tmp" "$cache/debs"
	tmp=$(mktemp -d "$cache/tmp/$name.XXXXXX")
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT
	log "$name: building $ref (mmdebstrap $suite, $variant + $include)"
	# The .deb cache goes in before the download and comes back out after it, so a
	# rebuild fetches only new versions (see mmdebstrap(1), "sync-in").
	# shellcheck disable=SC2016 # "$1" is the hook's argument (the rootfs), expanded by mmdebstrap's sh
	BUILD_WHEEL_DIR=$wheel_dir mmdebstrap --quiet --variant="$variant" --include="$include" \
		--aptopt='Acquire::Languages "none"' "${dpkg_excludes[@]}" \
		--skip=essential/unlink --skip=cleanup/run \
		--setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
		--setup-hook="sync-in '$cache/debs' /var/cache/apt/archives/" \
		--essential-hook="'$here/build.sh' hook essential $name \"\$1\"" \
		--customize-hook="sync-out /var/cache/apt/archives '$cache/debs'" \
		--customize-hook="'$here/build.sh' hook customize $name \"\$1\"" \
		"$suite" "$tmp/rootfs" >&2
	"$here/pack.sh" "$tmp/rootfs" "$ref" "$config" "$tmp/image.tar"
	mv "$tmp/image.tar" "$out"
	rm -rf "$tmp"
	trap - EXIT
	log "$name: built $ref in $((SECONDS - start)) s: $(du -h "$out" | cut -f1) ($out)"
}

# need CMD PACKAGE...: installs Debian packages when CMD is missing, so a fresh
# machine needs nothing by hand.
need() {
	local cmd=$1
	shift
	command -v "$cmd" >/dev/null && return 0
	log "installing $* (for $cmd)"
	if [[ -z "${apt_updated:-}" ]]; then apt-get update -qq >/dev/null; apt_updated=1; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Builds (or finds) the named images and links them into the set's folder.
build() {
	local names=("$@") n dir
	((${#names[@]})) || names=("${all_images[@]}")
	for n in "${names[@]}"; do ref_of "$n" >/dev/null; done
	[[ $(id -u) == 0 ]] || die "run as root (mmdebstrap root mode and chroot)"
	need mmdebstrap mmdebstrap
	need jq jq
	need flock util-linux
	python3 -m pip --version >/dev/null 2>&1 || need pip3 python3-pip
	mkdir -p "$cache"
	# One build at a time: mmdebstrap and pip are heavy, and the caches are shared.
	exec 9>"$cache/.lock"
	flock 9
	for n in "${names[@]}"; do build_one "$n"; done
	dir=$cache/$(set_key "${names[@]}")
	if [[ ! -f "$dir/images.txt" ]]; then
		mkdir -p "$dir.tmp"
		for n in "${names[@]}"; do
			ln -f "$cache/parts/$n-$(key_of "$n").tar" "$dir.tmp/$n.tar"
			printf '%s.tar %s\n' "$n" "$(ref_of "$n")" >>"$dir.tmp/images.txt"
		done
		rm -rf "$dir"
		mv "$dir.tmp" "$dir"
	fi
	prune "$dir"
	echo "$dir"
}

# Keeps the cache from growing without bound: the set just built and the two most
# recent others stay; parts that no remaining set links are removed.
prune() {
	local keep=$1 d n=0 p
	while read -r d; do
		[[ "$d" == "$keep" ]] && continue
		n=$((n + 1))
		((n > 2)) && rm -rf "$d"
	done < <(find "$cache" -mindepth 1 -maxdepth 1 -type d -name '????????????????' -printf '%T@ %p\n' | sort -rn | cut -d' ' -f2-)
	for p in "$cache"/parts/*.tar; do
		[[ -e "$p" && $(stat -c %h "$p") == 1 ]] && rm -f "$p"
	done
	return 0
}

cmd=${1:-build}
case "$cmd" in
	build) shift $(($# ? 1 : 0)); build "$@" ;;
	hook) shift; run_hook "$@" ;;
	dir)
		shift
		names=("$@")
		((${#names[@]})) || names=("${all_images[@]}")
		echo "$cache/$(set_key "${names[@]}")"
		;;
	list) for n in "${all_images[@]}"; do printf '%s %s\n' "$n" "$(ref_of "$n")"; done ;;
	import)
		shift
		args=() names=()
		while (($#)); do
			case "$1" in
				--address) args+=(--address "$2"); shift 2 ;;
				--address=*) args+=("$1"); shift ;;
				*) names+=("$1"); shift ;;
			esac
		done
		dir=$(build "${names[@]}")
		exec "$here/import.sh" "${args[@]}" "$dir"
		;;
	verify) shift; dir=$(build); exec "$here/verify.sh" "$dir" ;;
	postgres | redis | flower | app) build "$@" ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' ;;
	*) die "unknown command $cmd (build, import, dir, list, verify)" ;;
esac
