#!/usr/bin/env python3
"""Checks the images built by hack/images/build.sh without a kubelet.

    hack/images/verify.sh [DIR]        (DIR: a folder printed by build.sh)

Each image's layer is unpacked and run the way the operator's pods run it:
chroot into the tree as the pod's uid/gid (fsGroup as the supplementary group),
no_new_privs, the image's entrypoint/cmd and env from its config unless the pod
gives a command, volumes as host directories owned root:fsGroup mode 2775 (what
fsGroup does to a volume), Secret files mounted read-only, and for the app and
Flower a read-only root with a tmpfs on /tmp. Everything runs in private mount,
network, pid and uts namespaces (verify.sh starts them): the only network is a fresh
loopback, 127.0.0.1, and every process dies with the run.

Checks (each prints "ok ..." or stops with "FAIL ..."):
  postgres  an empty PGDATA is initialised as uid 999; the TCP probe fails during
            init (init scripts run against a socket-only server) and passes after;
            the password works over TCP and a wrong one is refused; a restart on
            the same volume does not initialise again and keeps the data; started
            as root it chowns PGDATA and runs as 999; no password -> refuses.
  redis     with the operator's args (Secret redis.conf, --appendonly yes --dir
            /data) the password is required (NOAUTH without it), PONG with it; the
            readiness probe passes; append-only files appear in /data, private.
  app       /health 200, /health/ready 503 naming the missing table, then 200
            after `python3 -m app.migrate`; a task queued before the migration
            fails with UndefinedTable; POST /items is run by the worker and GET
            returns the row; beat inserts rows; `celery inspect ping` answers.
  flower    /healthcheck 200 without auth, / 401 without and 200 with basic auth,
            and it sees the worker.
"""
import base64
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request

PG_PASSWORD = "pg-secret-Xy7"
REDIS_PASSWORD = "redis-secret-Q2w"
FLOWER_AUTH = "admin:flower-secret-9k"
DATABASE_URL = f"postgresql://app:{PG_PASSWORD}@127.0.0.1:5432/app"
REDIS_URL = f"redis://default:{REDIS_PASSWORD}@127.0.0.1:6379/0"
RESULT_URL = f"redis://default:{REDIS_PASSWORD}@127.0.0.1:6379/1"
# The operator's probe commands, verbatim.
PG_PROBE = ["pg_isready", "-U", "app", "-d", "app", "-h", "127.0.0.1", "-p", "5432"]
REDIS_PROBE = ["sh", "-c", 'test "$(redis-cli -p 6379 ping)" = PONG']

started = []  # (name, Popen) of every long-running container


def ok(msg):
    print(f"ok    {msg}", flush=True)


def fail(msg):
    print(f"FAIL  {msg}", flush=True)
    for name, p in started:
        if p.poll() is None:
            p.kill()
    sys.exit(1)


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


class Image:
    """One docker-archive, unpacked to a directory."""

    def __init__(self, tarball, work):
        self.name = os.path.basename(tarball).removesuffix(".tar")
        self.root = os.path.join(work, "roots", self.name)
        os.makedirs(self.root)
        with tarfile.open(tarball) as t:
            manifest = json.load(t.extractfile("manifest.json"))[0]
            self.config = json.load(t.extractfile(manifest["Config"]))["config"]
            self.ref = manifest["RepoTags"][0]
            layer = manifest["Layers"][0]
        # tar(1) keeps numeric owners, modes and special files exactly.
        subprocess.run(f"tar -xOf '{tarball}' '{layer}' | tar -x --numeric-owner -C '{self.root}'", shell=True, check=True)

    def env(self):
        return dict(e.split("=", 1) for e in self.config.get("Env", []))

    def home_of(self, uid):
        with open(os.path.join(self.root, "etc/passwd")) as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) > 5 and parts[2] == str(uid):
                    return parts[5]
        return "/"


class Container:
    """A process tree in a chroot of an image, set up like the pod's container."""

    count = 0

    def __init__(self, work, image, *, uid, gid, groups=(), read_only=False, volumes=None, secrets=None):
        Container.count += 1
        self.image, self.uid, self.gid = image, uid, gid
        self.groups = list(groups)
        self.mnt = os.path.join(work, "containers", f"{image.name}-{Container.count}")
        os.makedirs(self.mnt)
        sh("mount", "--bind", image.root, self.mnt)
        if read_only:
            sh("mount", "-o", "remount,bind,ro", self.mnt)
        sh("mount", "-t", "proc", "proc", f"{self.mnt}/proc")
        sh("mount", "--rbind", "/dev", f"{self.mnt}/dev")
        sh("mount", "-t", "tmpfs", "-o", "mode=1777", "shm", f"{self.mnt}/dev/shm")
        # The pods have an emptyDir on /tmp; the databases' /tmp is in their writable root.
        if read_only:
            sh("mount", "-t", "tmpfs", "-o", "mode=1777", "tmp", f"{self.mnt}/tmp")
        for path, host in {**(volumes or {}), **(secrets or {})}.items():
            target = self.mnt + path
            if not os.path.isdir(target):
                fail(f"{image.name}: mount point {path} is missing in the image")
            sh("mount", "--bind", host, target)
            if path in (secrets or {}):
                sh("mount", "-o", "remount,bind,ro", target)

    def argv(self, command=None, args=None, env=None, workdir=None):
        cfg = self.image.config
        # Kubernetes: command replaces ENTRYPOINT (and drops CMD); args replace CMD.
        if command is not None:
            cmd = list(command) + list(args or [])
        else:
            cmd = list(cfg.get("Entrypoint") or []) + list(args if args is not None else cfg.get("Cmd") or [])
        full_env = {"HOSTNAME": "verify", "HOME": self.image.home_of(self.uid), **self.image.env(), **(env or {})}
        wd = workdir or cfg.get("WorkingDir") or "/"
        groups = ",".join(str(g) for g in [self.gid, *self.groups])
        return [
            "setpriv", "--no-new-privs",
            "chroot", f"--userspec={self.uid}:{self.gid}", f"--groups={groups}", self.mnt,
            "/usr/bin/env", "-i", "-C", wd, *[f"{k}={v}" for k, v in full_env.items()], *cmd,
        ]

    def start(self, name, log_dir, **kw):
        self.log = os.path.join(log_dir, f"{name}.log")
        self.name = name
        out = open(self.log, "w")
        self.proc = subprocess.Popen(self.argv(**kw), stdout=out, stderr=subprocess.STDOUT)
        started.append((name, self.proc))
        return self

    def exec(self, cmd, env=None, timeout=60, workdir=None):
        """Like `kubectl exec` (and exec probes): same root, uid and env."""
        return subprocess.run(
            self.argv(command=cmd, env=env, workdir=workdir),
            capture_output=True, text=True, timeout=timeout,
        )

    def logs(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=60):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            fail(f"{self.name} did not stop within {timeout}s of {sig.name}")


def wait_for(what, cond, timeout=60, interval=0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    fail(f"timed out after {timeout}s waiting for {what}")


def http(method, url, auth=None, timeout=10):
    req = urllib.request.Request(url, method=method)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
        return None, str(e)


def volume(work, name, gid):
    """A volume directory as the kubelet leaves it with fsGroup: root:gid, 2775."""
    path = os.path.join(work, "volumes", name)
    os.makedirs(path)
    os.chown(path, 0, gid)
    os.chmod(path, 0o2775)
    return path


def uid_of_pid(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])


# --------------------------------------------------------------------------------

def check_postgres(img, work, logs):
    pgvol = volume(work, "postgres", 999)
    initdb = os.path.join(work, "initdb")
    os.makedirs(initdb)
    # Runs during init: the TCP probe must fail while the socket already answers.
    with open(os.path.join(initdb, "10-probe.sh"), "w") as f:
        f.write(
            "if pg_isready -h 127.0.0.1 -p 5432 -t 2; then echo 'INIT-PROBE: tcp answered during init'; exit 1; fi\n"
            "pg_isready -h /var/run/postgresql -p 5432 && echo 'INIT-PROBE: socket up, tcp down'\n"
            "sleep 3\n"
        )
    with open(os.path.join(initdb, "20-seed.sql"), "w") as f:
        f.write("CREATE TABLE seeded (n int); INSERT INTO seeded VALUES (42);\n")
    os.makedirs(img.root + "/docker-entrypoint-initdb.d", exist_ok=True)
    env = {"POSTGRES_USER": "app", "POSTGRES_DB": "app", "POSTGRES_PASSWORD": PG_PASSWORD, "PGDATA": "/var/lib/postgresql/data"}
    c = Container(work, img, uid=999, gid=999, groups=[999], volumes={"/var/lib/postgresql": pgvol, "/docker-entrypoint-initdb.d": initdb})
    t0 = time.monotonic()
    c.start("postgres-1", logs, env=env)
    probes = []  # (seconds, passed, init complete at that moment)

    def ready():
        r = c.exec(PG_PROBE)
        probes.append((time.monotonic() - t0, r.returncode == 0, "initialization complete" in c.logs()))
        if c.proc.poll() is not None:
            fail(f"postgres exited ({c.proc.returncode}):\n{c.logs()}")
        return r.returncode == 0

    wait_for("postgres readiness probe", ready, timeout=120, interval=0.5)
    log = c.logs()
    if "INIT-PROBE: socket up, tcp down" not in log:
        fail(f"postgres init script did not see a socket-only server:\n{log}")
    early = [p for p in probes if not p[2]]
    if any(passed for _, passed, _ in early):
        fail(f"pg_isready passed before init completed: {probes}")
    ok(f"postgres: initialised an empty PGDATA; probe failed {len(early)}x during init "
       f"(init script saw 'socket up, tcp down'), passed after {probes[-1][0]:.1f}s")
    st = os.stat(os.path.join(pgvol, "data"))
    if (st.st_uid, st.st_mode & 0o777) != (999, 0o700):
        fail(f"PGDATA owned by {st.st_uid} mode {oct(st.st_mode)}")
    with open(os.path.join(pgvol, "data", "postmaster.pid")) as f:
        pm = int(f.readline())
    # The server is the process we started (exec all the way), running as 999.
    if pm != c.proc.pid:
        fail(f"postmaster pid {pm} is not the container's first process {c.proc.pid}")
    if uid_of_pid(pm) != 999:
        fail(f"postmaster runs as uid {uid_of_pid(pm)}")
    ok("postgres: PGDATA 0700 owned by 999; the server is the container's first process (exec), uid 999")

    psql = ["psql", "-h", "127.0.0.1", "-p", "5432", "-U", "app", "-d", "app", "-tAc"]
    r = c.exec(psql + ["select current_user || ' ' || current_database() || ' ' || (select n from seeded) || ' ' || "
                       "(select auth_method from pg_hba_file_rules where address = 'all' limit 1) || ' ' || "
                       "pg_encoding_to_char(encoding) from pg_database where datname = 'app'"], env={"PGPASSWORD": PG_PASSWORD})
    if r.returncode != 0 or r.stdout.strip() != "app app 42 scram-sha-256 UTF8":
        fail(f"psql over TCP with the password: rc={r.returncode} out={r.stdout!r} err={r.stderr!r}")
    ok(f"postgres: psql over TCP with the password -> {r.stdout.strip()!r} (user, db, init .sql ran, hba rule, encoding)")
    r = c.exec(psql + ["select 1"], env={"PGPASSWORD": "wrong"})
    if r.returncode == 0 or "password authentication failed" not in r.stderr:
        fail(f"wrong password over TCP: rc={r.returncode} err={r.stderr!r}")
    ok(f"postgres: wrong password refused: {r.stderr.strip().splitlines()[-1]}")
    for tool in ("pg_dump", "pg_restore", "psql", "pg_isready"):
        r = c.exec(["sh", "-c", f"command -v {tool} && {tool} --version"])
        if r.returncode != 0:
            fail(f"{tool} not on PATH: {r.stderr}")
    ok("postgres: pg_dump, pg_restore, psql, pg_isready on PATH (" + c.exec(["sh", "-c", "command -v psql"]).stdout.strip() + ")")

    rc = c.stop(signal.SIGINT)
    ok(f"postgres: stopped by SIGINT (exit {rc})")
    c2 = Container(work, img, uid=999, gid=999, groups=[999], volumes={"/var/lib/postgresql": pgvol, "/docker-entrypoint-initdb.d": initdb})
    c2.start("postgres-2", logs, env=env)
    wait_for("postgres readiness after restart", lambda: c2.exec(PG_PROBE).returncode == 0, timeout=60)
    log = c2.logs()
    if "initializing" in log or "skipping initialization" not in log or "INIT-PROBE" in log:
        fail(f"restart on a non-empty PGDATA initialised again:\n{log}")
    r = c2.exec(psql + ["select n from seeded"], env={"PGPASSWORD": PG_PASSWORD})
    if r.stdout.strip() != "42":
        fail(f"data lost after restart: {r.stdout!r} {r.stderr!r}")
    ok("postgres: restart on the same PGDATA skipped initialisation and kept the data")

    # Started as root (no runAsUser): chowns PGDATA and drops to 999.
    rootvol = volume(work, "postgres-root", 0)
    # Its own socket directory: in a pod each container has its own root, here
    # the running server above shares the unpacked image's /run/postgresql.
    rundir = volume(work, "postgres-root-run", 0)
    os.chmod(rundir, 0o3777)
    c3 = Container(work, img, uid=0, gid=0, volumes={"/var/lib/postgresql": rootvol, "/run/postgresql": rundir})
    c3.start("postgres-root", logs, env={**env, "PGDATA": "/var/lib/postgresql/data"}, args=["-p", "5433"])
    wait_for("postgres (root start) on 5433", lambda: c3.exec(["pg_isready", "-h", "127.0.0.1", "-p", "5433"]).returncode == 0, timeout=120)
    st = os.stat(os.path.join(rootvol, "data"))
    if uid_of_pid(c3.proc.pid) != 999 or st.st_uid != 999:
        fail(f"root start: server uid {uid_of_pid(c3.proc.pid)}, PGDATA owner {st.st_uid}")
    ok("postgres: started as root with args ['-p', '5433'] -> 'postgres -p 5433', PGDATA chowned, server uid 999")
    c3.stop(signal.SIGINT)

    c4 = Container(work, img, uid=999, gid=999, groups=[999], volumes={"/var/lib/postgresql": volume(work, "postgres-nopw", 999)})
    c4.start("postgres-nopw", logs, env={"POSTGRES_USER": "app"})
    rc = c4.proc.wait(30)
    if rc == 0 or "POSTGRES_PASSWORD is not set" not in c4.logs():
        fail(f"no password: rc={rc}\n{c4.logs()}")
    ok(f"postgres: no POSTGRES_PASSWORD on an empty PGDATA -> exit {rc} with a message")
    return c2


def check_redis(img, work, logs):
    data = volume(work, "redis", 999)
    auth = os.path.join(work, "redis-auth")
    os.makedirs(auth)
    with open(os.path.join(auth, "redis.conf"), "w") as f:
        f.write(f'requirepass "{REDIS_PASSWORD}"\n')
    os.makedirs(img.root + "/etc/redis/auth", exist_ok=True)
    c = Container(work, img, uid=999, gid=999, groups=[999], volumes={"/data": data}, secrets={"/etc/redis/auth": auth})
    c.pod_env = {"REDISCLI_AUTH": REDIS_PASSWORD}
    c.start("redis", logs, env=c.pod_env, args=["/etc/redis/auth/redis.conf", "--appendonly", "yes", "--dir", "/data"])
    wait_for("redis readiness probe", lambda: c.exec(REDIS_PROBE, env=c.pod_env).returncode == 0, timeout=30)
    ok("redis: the operator's readiness probe passes (REDISCLI_AUTH)")
    r = c.exec(["redis-cli", "-u", f"redis://default:{REDIS_PASSWORD}@127.0.0.1:6379", "ping"])
    if r.stdout.strip() != "PONG":
        fail(f"redis with password: {r.stdout!r} {r.stderr!r}")
    r2 = c.exec(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"])
    if "NOAUTH" not in r2.stdout + r2.stderr:
        fail(f"redis without password: {r2.stdout!r} {r2.stderr!r}")
    ok(f"redis: with password -> {r.stdout.strip()}; without -> {(r2.stdout + r2.stderr).strip()}")
    r = c.exec(["redis-cli", "config", "get", "appendonly"], env=c.pod_env)
    r2 = c.exec(["redis-cli", "config", "get", "daemonize"], env=c.pod_env)
    if r.stdout.split() != ["appendonly", "yes"] or r2.stdout.split() != ["daemonize", "no"]:
        fail(f"redis config: {r.stdout!r} {r2.stdout!r}")
    aof = os.path.join(data, "appendonlydir")
    wait_for("appendonlydir in /data", lambda: os.path.isdir(aof), timeout=10)
    st = os.stat(aof)
    if st.st_uid != 999 or st.st_mode & 0o077:
        fail(f"appendonlydir owner {st.st_uid} mode {oct(st.st_mode)}")
    if c.proc.pid != int(c.exec(["redis-cli", "info", "server"], env=c.pod_env).stdout.split("process_id:")[1].split()[0]):
        fail("redis-server is not the container's first process")
    ok(f"redis: appendonly yes, daemonize no, {aof.split('/')[-1]} in /data owned by 999 mode {oct(st.st_mode & 0o777)} (umask 0077), redis-server is PID of the container")
    return c


def app_env():
    return {
        "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL, "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": RESULT_URL, "LOG_LEVEL": "info",
    }


def check_app(img, work, logs):
    def app_container():
        return Container(work, img, uid=1000, gid=1000, groups=[1000], read_only=True)

    api = app_container().start("api", logs, env=app_env(),
                                command=["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"])
    worker = app_container().start("worker", logs, env=app_env(),
                                   command=["celery", "-A", "app.celery", "worker", "--loglevel=info", "--concurrency=2", "--task-events"])
    wait_for("api /health", lambda: http("GET", "http://127.0.0.1:8000/health")[0] == 200, timeout=60)
    for path in ("/health", "/health/live"):
        s, b = http("GET", "http://127.0.0.1:8000" + path)
        if s != 200:
            fail(f"{path}: {s} {b}")
    s, b = http("GET", "http://127.0.0.1:8000/health/ready")
    if s != 503 or "items" not in b:
        fail(f"/health/ready before the migration: {s} {b}")
    ok(f"app: /health 200, /health/live 200, /health/ready before migration -> {s} {b}")

    wait_for("worker ready", lambda: "ready." in worker.logs(), timeout=60)
    s, b = http("POST", "http://127.0.0.1:8000/items?value=before-migration")
    if s != 200:
        fail(f"POST /items before migration: {s} {b}")
    wait_for("the task to fail on the missing table",
             lambda: 'relation "items" does not exist' in worker.logs(), timeout=30)
    ok("app: a task run before the migration fails: " +
       next(line for line in worker.logs().splitlines() if "does not exist" in line).strip()[:160])

    m = app_container().exec(["python3", "-m", "app.migrate"], env=app_env())
    m2 = app_container().exec(["python3", "-m", "app.migrate"], env=app_env())
    if m.returncode != 0 or m2.returncode != 0:
        fail(f"python3 -m app.migrate: {m.stdout} {m.stderr} / {m2.stderr}")
    ok(f"app: python3 -m app.migrate (twice, idempotent): {m.stderr.strip()}")
    s, b = http("GET", "http://127.0.0.1:8000/health/ready")
    if s != 200:
        fail(f"/health/ready after the migration: {s} {b}")
    ok(f"app: /health/ready after migration -> {s} {b}")

    s, b = http("POST", "http://127.0.0.1:8000/items?value=hello-e2e")
    if s != 200 or json.loads(b).get("value") != "hello-e2e" or not json.loads(b).get("task_id"):
        fail(f"POST /items: {s} {b}")
    task = json.loads(b)["task_id"]

    def row():
        s, b = http("GET", "http://127.0.0.1:8000/items?value=hello-e2e")
        return s == 200 and json.loads(b) and b

    b = wait_for("the worker to write the row", row, timeout=30)
    ok(f"app: POST /items -> task {task}; GET /items?value=hello-e2e -> {b}")

    probe = worker.exec(["python3", "-c",
                         "import subprocess, sys; sys.exit(subprocess.run(['celery', '-A', 'app.celery', 'inspect', 'ping', '--timeout', '5'], "
                         "capture_output=True).returncode)"], env=app_env())
    r = worker.exec(["celery", "-A", "app.celery", "inspect", "ping", "--timeout", "5"], env=app_env())
    if probe.returncode != 0 or "pong" not in r.stdout:
        fail(f"celery inspect ping: {probe.returncode} {r.stdout} {r.stderr}")
    ok(f"app: python3-based exec probe (celery -A app.celery inspect ping) exits 0: {r.stdout.split(chr(10))[0].strip()} {r.stdout.count('pong')} pong")

    beat = app_container().start("beat", logs, env=app_env(),
                                 command=["celery", "-A", "app.celery", "beat", "--loglevel=info", "--schedule=/tmp/celerybeat-schedule"])

    def beat_rows():
        s, b = http("GET", "http://127.0.0.1:8000/items/count?source=beat")
        return s == 200 and json.loads(b)["count"] >= 2 and b

    b = wait_for("beat rows", beat_rows, timeout=40)
    ok(f"app: beat inserts rows every 5 s: GET /items/count?source=beat -> {b}")
    return api, worker, beat


def check_flower(img, work, logs):
    c = Container(work, img, uid=1000, gid=1000, groups=[1000], read_only=True)
    c.start("flower", logs, env={"CELERY_BROKER_URL": REDIS_URL, "FLOWER_BASIC_AUTH": FLOWER_AUTH},
            command=["celery", f"--broker={REDIS_URL}", "flower", "--port=5555"])
    wait_for("flower /healthcheck", lambda: http("GET", "http://127.0.0.1:5555/healthcheck")[0] == 200, timeout=60)
    s0, b0 = http("GET", "http://127.0.0.1:5555/healthcheck")
    s1, _ = http("GET", "http://127.0.0.1:5555/")
    s2, _ = http("GET", "http://127.0.0.1:5555/", auth=FLOWER_AUTH)
    s3, _ = http("GET", "http://127.0.0.1:5555/", auth="admin:wrong")
    if (s0, s1, s2, s3) != (200, 401, 200, 401):
        fail(f"flower: /healthcheck {s0}, / {s1} without auth, {s2} with, {s3} wrong\n{c.logs()}")
    ok(f"flower: /healthcheck {s0} {b0!r}; / -> {s1} without auth, {s2} with basic auth, {s3} with a wrong password")

    def sees_worker():
        s, b = http("GET", "http://127.0.0.1:5555/api/workers?refresh=1", auth=FLOWER_AUTH, timeout=20)
        return s == 200 and "celery@" in b and b

    b = wait_for("flower to list the worker", sees_worker, timeout=40, interval=2)
    ok(f"flower: /api/workers lists {list(json.loads(b))}")
    return c


def main():
    if os.getpid() != 1:
        sys.exit("verify.py runs as PID 1 of its own namespaces: use hack/images/verify.sh")
    images_dir = sys.argv[1]
    sh("ip", "link", "set", "lo", "up")
    sh("hostname", "verify")  # a pod's hostname is its own too (celery@verify)
    sh("mount", "--make-rprivate", "/")
    work = tempfile.mkdtemp(prefix="verify.", dir=os.environ.get("VERIFY_WORK_DIR"))
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    print(f"work dir: {work} (container logs in {logs})", flush=True)
    images = {}
    with open(os.path.join(images_dir, "images.txt")) as f:
        for line in f:
            file, ref = line.split()
            img = Image(os.path.join(images_dir, file), work)
            if img.ref != ref:
                fail(f"{file}: RepoTags {img.ref} is not {ref}")
            images[img.name] = img
    ok("unpacked: " + ", ".join(f"{i.name}={i.ref}" for i in images.values()))
    only = set(os.environ.get("VERIFY_ONLY", "postgres redis app flower").split())
    try:
        if "postgres" in only or "app" in only:
            check_postgres(images["postgres"], work, logs)
        if "redis" in only or "app" in only or "flower" in only:
            check_redis(images["redis"], work, logs)
        if "app" in only:
            check_app(images["app"], work, logs)
        if "flower" in only:
            check_flower(images["flower"], work, logs)
    except SystemExit:
        raise
    except Exception as e:
        fail(f"{type(e).__name__}: {e}")
    finally:
        for name, p in reversed(started):
            if p.poll() is None:
                p.terminate()
        for name, p in started:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    print("verify: all checks passed", flush=True)


if __name__ == "__main__":
    main()
