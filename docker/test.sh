#!/usr/bin/env bash
# make docker-test: builds docker/Dockerfile and checks the image for real,
# with Debian's podman (no Docker engine and no image registry needed):
#   1. installs podman, buildah, debootstrap and runc when missing (apt-get);
#   2. a local base image localhost/debian:bookworm, made once with debootstrap and cached
#      (the podman image store, and a tarball in $ENCODERD_BASE_CACHE, default
#      /var/tmp/encoderd-base) - reused when present;
#   3. podman build --isolation=chroot --format docker --build-arg BASE=localhost/debian:bookworm
#      (--format docker keeps the HEALTHCHECK, which the OCI format drops);
#   4. runs two containers with runc, empty default_ulimits and --network host, each on a
#      free loopback port given through ENCODERD_PORT (the image's documented variable):
#      the default one (random base model), and one with a checkpoint folder mounted
#      read-only at /models and --model /models/bert_f32;
#   5. checks /health, a real POST /encode (200 and an embedding of d_model numbers), the
#      image's HEALTHCHECK, that encoderd runs as uid 10001 (not root), and that SIGTERM
#      stops it with exit code 0; then stops and removes the containers.
# Prints the image size. Exit code 0 when every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${ENCODERD_IMAGE:-localhost/encoderd:test}
BASE_IMAGE=localhost/debian:bookworm
CACHE=${ENCODERD_BASE_CACHE:-/var/tmp/encoderd-base}
BASE_TAR=$CACHE/debian-bookworm-minbase-slim.tar
PREFIX=encoderd-test-$$
passed=0; failed=0

say() { echo "docker-test: $*"; }
ok() { passed=$((passed + 1)); echo "  ok   $*"; }
bad() { failed=$((failed + 1)); echo "  FAIL $*"; }

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo

# ---- 1. tools ---------------------------------------------------------------------------
missing=""
for p in podman buildah debootstrap runc curl; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
    say "installing:$missing"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi

# runc with no default ulimits (they cannot be set inside an unprivileged sandbox).
TMP=$(mktemp -d /tmp/encoderd-docker-test.XXXXXX)
printf '[containers]\ndefault_ulimits = []\n' > "$TMP/containers.conf"
export CONTAINERS_CONF=$TMP/containers.conf
pm() { podman --runtime runc "$@"; }

containers=()
cleanup() {
    for c in "${containers[@]}"; do pm rm -f -t 5 "$c" >/dev/null 2>&1 || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# ---- 2. the base image ------------------------------------------------------------------
if podman image exists "$BASE_IMAGE"; then
    say "base image $BASE_IMAGE: present"
else
    if [ ! -s "$BASE_TAR" ]; then
        # The mirror apt uses here (deb822 or one-line sources), else Debian's default.
        mirror=$(grep -rhoE 'https?://[^ ]+/debian/?$' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | head -1 || true)
        mirror=${mirror:-http://deb.debian.org/debian}
        say "debootstrap --variant=minbase bookworm from $mirror (once; cached in $BASE_TAR)"
        mkdir -p "$CACHE"
        rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
        debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$CACHE/debootstrap.log" 2>&1 || {
            tail -20 "$CACHE/debootstrap.log"; rm -rf "$rootfs"; exit 1; }
        # Slimmed as debian:bookworm-slim is (its dpkg excludes, no package cache, no
        # lists), so that the image size here is close to what users get.
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
            "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
            "$rootfs"/usr/share/lintian/* "$rootfs"/usr/share/groff/* "$rootfs"/var/log/*.log
        find "$rootfs"/usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
        printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
            'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
            'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/lintian/*' \
            'path-exclude /usr/share/groff/*' > "$rootfs"/etc/dpkg/dpkg.cfg.d/encoderd-slim
        tar -C "$rootfs" -cf "$BASE_TAR.part" . && mv "$BASE_TAR.part" "$BASE_TAR"
        rm -rf "$rootfs"
    fi
    say "importing $BASE_TAR as $BASE_IMAGE"
    podman import "$BASE_TAR" "$BASE_IMAGE" >/dev/null
fi

# ---- 3. build ---------------------------------------------------------------------------
say "podman build -f docker/Dockerfile -t $IMAGE (BASE=$BASE_IMAGE, JOBS=1)"
t0=$(date +%s)
old_id=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
podman build --isolation=chroot --format docker --build-arg BASE="$BASE_IMAGE" \
    --build-arg JOBS=1 -f docker/Dockerfile -t "$IMAGE" . > "$TMP/build.log" 2>&1 || {
    tail -40 "$TMP/build.log"; say "build failed"; exit 1; }
say "built in $(( $(date +%s) - t0 )) s"
# Runs must not pile up images: the previous build of this tag, and the untagged images
# older than this build (earlier builds' stages; the layers this build reused are kept).
new_id=$(podman image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then podman rmi "$old_id" >/dev/null 2>&1 || true; fi
podman image prune -f --filter "until=$t0" >/dev/null 2>&1 || true
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
base_size=$(podman image inspect --format '{{.Size}}' "$BASE_IMAGE")
say "image size: $((size / 1000000)) MB ($size bytes; the base image alone: $((base_size / 1000000)) MB)"

# The image's metadata, as docker would see it.
cfg=$(podman image inspect --format '{{.Config.User}}|{{json .Config.ExposedPorts}}|{{json .Config.Healthcheck.Test}}|{{json .Config.Volumes}}' "$IMAGE")
IFS='|' read -r user ports hc vols <<< "$cfg"
[ "$user" = "10001:10001" ] && ok "image USER $user" || bad "image USER is '$user'"
[[ $ports == *8080/tcp* ]] && ok "EXPOSE $ports" || bad "ExposedPorts $ports"
[[ $hc == *encoderd-healthcheck* ]] && ok "HEALTHCHECK $hc" || bad "HEALTHCHECK $hc"
[[ $vols == */models* ]] && ok "VOLUME $vols" || bad "Volumes $vols"

# ---- 4. run -----------------------------------------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { # a port nobody listens on, from $1 up
    local p=$1
    while ! port_free "$p"; do p=$((p + 1)); done
    echo "$p"
}

# check_container NAME PORT D_MODEL [podman run args...] [-- image args...]
check_container() {
    local name=$1 port=$2 dmodel=$3; shift 3
    local run_args=() img_args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do run_args+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    img_args=("$@")
    containers+=("$name")
    say "run $name on 127.0.0.1:$port ${img_args[*]}"
    # (podman cannot schedule the HEALTHCHECK without systemd and says so on stderr; the
    # check is run by hand below.)
    pm run -d --network host --name "$name" -e ENCODERD_PORT="$port" "${run_args[@]}" \
        "$IMAGE" "${img_args[@]}" >/dev/null 2>"$TMP/run.err" || { cat "$TMP/run.err"; bad "podman run"; return; }
    local i up=0
    for i in $(seq 1 300); do
        if curl -fsS -m 2 "http://127.0.0.1:$port/health" > "$TMP/health" 2>/dev/null; then up=1; break; fi
        [ "$(pm inspect --format '{{.State.Running}}' "$name")" = true ] || break
        sleep 0.2
    done
    if [ $up = 1 ]; then ok "GET /health: $(cat "$TMP/health")"; else
        bad "GET /health never answered"; pm logs "$name" 2>&1 | tail -20; return; fi

    local code
    code=$(curl -sS -m 30 -o "$TMP/encode.json" -w '%{http_code}' \
        -d '{"text":"Hello World"}' "http://127.0.0.1:$port/encode")
    local n
    n=$(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
        const e=r.embedding; console.log(Array.isArray(e)&&e.every(Number.isFinite)?e.length:-1)' \
        "$TMP/encode.json" 2>/dev/null || echo -1)
    if [ "$code" = 200 ] && [ "$n" = "$dmodel" ]; then
        ok "POST /encode: 200, embedding of $n numbers, $(head -c 60 "$TMP/encode.json")..."
    else
        bad "POST /encode: status $code, embedding length $n: $(head -c 300 "$TMP/encode.json")"
    fi

    if pm healthcheck run "$name" >/dev/null 2>&1; then ok "HEALTHCHECK: healthy"; else
        bad "HEALTHCHECK: $(pm healthcheck run "$name" 2>&1 | tail -1)"; fi

    # The process itself (PID 1 of the container, encoderd after the entry point's exec),
    # seen from the host; and the user a `podman exec` gets.
    local pid uid comm xid
    pid=$(pm inspect --format '{{.State.Pid}}' "$name")
    comm=$(cat "/proc/$pid/comm" 2>/dev/null || echo '?')
    uid=$(awk '/^Uid:/ {print $2 "/" $3}' "/proc/$pid/status" 2>/dev/null || echo '?')
    xid=$(pm exec "$name" id -u 2>/dev/null || echo '?')
    if [ "$comm" = encoderd ] && [ "$uid" = 10001/10001 ] && [ "$xid" = 10001 ]; then
        ok "not root: PID 1 is $comm with uid $uid (real/effective); podman exec id -u: $xid"
    else
        bad "process user: comm $comm, uid $uid, exec id -u $xid"
    fi

    # (logs to a file, then grep: `podman logs | grep -q` fails under pipefail when grep
    # stops reading early)
    local line
    pm logs "$name" > "$TMP/log" 2>&1 || true
    line=$(grep -m1 'listening on' "$TMP/log" | sed 's/.*) listening/listening/')
    if [ -z "${EXPECT_LOG:-}" ] || grep -q -- "$EXPECT_LOG" "$TMP/log"; then
        ok "log: $(grep -m1 'encoderd: config' "$TMP/log"); $line"
    else
        bad "log has no '$EXPECT_LOG': $(head -3 "$TMP/log")"
    fi
    pm stop -t 30 "$name" >/dev/null 2>"$TMP/stop.err" || cat "$TMP/stop.err"
    local rc
    rc=$(pm inspect --format '{{.State.ExitCode}}' "$name")
    pm logs "$name" > "$TMP/log" 2>&1 || true
    if [ "$rc" = 0 ] && grep -q 'encoderd: stopped' "$TMP/log"; then
        ok "SIGTERM (podman stop): exit code 0, '$(tail -1 "$TMP/log")'"
    else
        bad "stop: exit code $rc"; tail -10 "$TMP/log"
    fi
    pm rm -f "$name" >/dev/null 2>&1 || true
}

p1=$(pick_port 18080)
check_container "$PREFIX-default" "$p1" 512
# The second one as the README and docker/k8s run it: a config folder of one's own mounted
# over /etc/encoderd, a checkpoint under /models, a read-only root file system.
mkdir -p "$TMP/conf"
printf '{ "host": "0.0.0.0", "port": 8080, "threads": 1, "max_queue": 16 }\n' > "$TMP/conf/config.json"
chmod 0755 "$TMP/conf"; chmod 0644 "$TMP/conf/config.json"
p2=$(pick_port $((p1 + 1)))
EXPECT_LOG="with 1 threads" check_container "$PREFIX-model" "$p2" 32 --read-only \
    -v "$TMP/conf:/etc/encoderd:ro" \
    -v "$PWD/tests/golden/fixtures/bert_f32/model:/models/bert_f32:ro" -- --model /models/bert_f32

echo "docker-test: image $IMAGE $((size / 1000000)) MB"
echo "docker-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
