#!/usr/bin/env bash
# make deploy-check: the deployment files, checked without a cluster or a Docker engine.
#   - docker/Dockerfile: dockerfile-utils' linter (unknown instructions and flags, bad
#     arguments; npm, in docker/lint);
#   - docker/k8s/*.yaml: the Kubernetes API schemas and the official client's field list
#     (docker/lint/k8s.mjs; npm: kubernetes-models, @kubernetes/client-node), then the
#     same checker on broken copies, which it must refuse;
#   - docker/compose.yaml: `docker-compose config` (Debian's docker-compose validates the
#     file against the Compose schema; no engine needed);
#   - docker/nginx.conf: `nginx -t` (with the replicas' names put to 127.0.0.1, since
#     they resolve only inside compose);
#   - docker/config.json and the ConfigMap's config.json: build/encoderd starts on them.
# Usage: docker/check.sh [BUILD_DIR]. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
build=${1:-build}
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "  ok   $*"; }
bad() { failed=$((failed + 1)); echo "  FAIL $*"; }
TMP=$(mktemp -d /tmp/encoderd-deploy-check.XXXXXX)
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT

missing=""
command -v docker-compose >/dev/null 2>&1 || missing="$missing docker-compose"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    echo "deploy-check: installing:$missing"
    $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
        --no-install-recommends $missing >/dev/null || exit 1
fi

# ---- the npm tools ---------------------------------------------------------------------
L=docker/lint
ver() { sed -n "s|.*\"$1\": \"\(.*\)\".*|\1|p" $L/package.json; }
if [ ! -d $L/node_modules/kubernetes-models ] || [ ! -d $L/node_modules/@kubernetes/client-node ] ||
   [ ! -x $L/node_modules/.bin/dockerfile-utils ] || [ $L/package-lock.json -nt $L/node_modules ]; then
    (cd $L && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) || bad "npm ci in $L"
fi

# ---- Dockerfile ------------------------------------------------------------------------
echo "== docker/Dockerfile (dockerfile-utils $(ver dockerfile-utils))"
if out=$($L/node_modules/.bin/dockerfile-utils lint docker/Dockerfile 2>&1) && [ -z "$out" ]; then
    ok "dockerfile-utils lint: no problem"
else
    bad "dockerfile-utils lint: $out"
fi

# ---- Kubernetes ------------------------------------------------------------------------
echo "== docker/k8s (kubernetes-models $(ver kubernetes-models), @kubernetes/client-node $(ver @kubernetes/client-node))"
if node $L/k8s.mjs docker/k8s; then ok "docker/k8s: every manifest valid"; else bad "docker/k8s"; fi
# The checker must refuse broken manifests (so a pass above means something).
selftest() { # description, sed expression applied to deployment.yaml
    rm -rf "$TMP/k8s"; mkdir "$TMP/k8s"; cp docker/k8s/*.yaml "$TMP/k8s/"
    sed -i "$2" "$TMP/k8s/deployment.yaml"
    if node $L/k8s.mjs "$TMP/k8s" > "$TMP/selftest.out" 2>&1; then
        bad "the checker accepted $1"
    else
        ok "the checker refuses $1: $(grep -m1 FAIL "$TMP/selftest.out" | sed 's/^ *FAIL //' | cut -c1-150)"
    fi
}
selftest "a misspelt field" 's/readinessProbe:/readinesProbe:/'
selftest "a wrong type" 's/replicas: 2/replicas: two/'
selftest "a missing required field" 's/- name: encoderd$/- nme: encoderd/'

# ---- compose ---------------------------------------------------------------------------
echo "== docker/compose.yaml ($(docker-compose version --short 2>/dev/null | head -1))"
if out=$(docker-compose -f docker/compose.yaml --profile scale config -q 2>&1); then
    ok "docker-compose config: valid; services $(docker-compose -f docker/compose.yaml --profile scale config --services 2>/dev/null | tr '\n' ' ')"
else
    bad "docker-compose config: $out"
fi

# ---- nginx -----------------------------------------------------------------------------
echo "== docker/nginx.conf ($(nginx -v 2>&1 | sed 's/^nginx version: //'))"
sed 's/replica-[0-9]*:8080/127.0.0.1:8080/' docker/nginx.conf |
    sed "s|^events|pid $TMP/nginx.pid; error_log $TMP/error.log;\nevents|" > "$TMP/nginx.conf"
if out=$(nginx -t -q -e "$TMP/error.log" -p "$TMP/" -c "$TMP/nginx.conf" 2>&1); then
    ok "nginx -t: syntax ok"
else
    bad "nginx -t: $out"
fi

# ---- encoderd's config files -----------------------------------------------------------
echo "== config files"
node -e 'const y=require("./docker/lint/node_modules/yaml");
    const d=y.parse(require("fs").readFileSync("docker/k8s/configmap.yaml","utf8"));
    process.stdout.write(d.data["config.json"])' > "$TMP/configmap.json"
for f in docker/config.json "$TMP/configmap.json"; do
    name=$f; [ "$f" = "$TMP/configmap.json" ] && name="docker/k8s/configmap.yaml's config.json"
    if [ ! -x "$build/encoderd" ]; then bad "$build/encoderd missing: cannot check $name"; continue; fi
    # The file's keys as they are; only where it listens and the model are overridden.
    "$build/encoderd" --config "$f" --host 127.0.0.1 --port 0 --preset toy > "$TMP/enc.log" 2>&1 &
    PID=$!
    up=0
    for _ in $(seq 1 100); do
        grep -q 'listening on' "$TMP/enc.log" && { up=1; break; }
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=""
    if [ $up = 1 ]; then ok "$name: encoderd accepts it"; else bad "$name: $(head -3 "$TMP/enc.log")"; fi
done

echo "deploy-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
