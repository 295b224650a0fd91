#!/usr/bin/env bash
# Real container clients against `airlift serve`, inside a network namespace
# with only loopback: crane and oras (pinned, built with `go install`) and
# skopeo (Debian: the machine's release's and the newest stable's, from a
# cached root, tests/newest-debian.sh) push and pull; everything pulled must
# be byte-identical to what was pushed. Then the pushed images cross a bundle
# to a second home and are pulled again there.
#
# Usage: AIRLIFT=path/to/airlift tests/oci/clients.sh   (as root)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
# shellcheck source=tools.sh
source "$ROOT/tests/oci/tools.sh"

# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-oci-clients
CHECK_LOG=$WORK/clients.log
export AIRLIFT WORK CHECK_LOG CRANE ORAS

# The newest Debian stable's skopeo too, alongside this machine's (the
# oldest supported): a minimal root of that release, built once from the
# machine's mirror and cached outside the clone (tests/newest-debian.sh). No
# root, no pass: the checks that use it fail.
# shellcheck source=../newest-debian.sh
source "$ROOT/tests/newest-debian.sh"
check "a minimal Debian $NEWEST_SUITE root with its skopeo (built once, cached in $NEWEST_DIR)" newest_root
echo "oci-clients: testing skopeo $(skopeo --version | awk '{print $3}') (this machine's, Debian $(. /etc/os-release && echo "$VERSION_CODENAME")) and skopeo ${NEWEST_SKOPEO_VERSION:-(none)} (Debian $NEWEST_SUITE; root ${NEWEST_BUILT:-not built})"
export NEWEST_DIR NEWEST_SUITE

mkdir -p /etc/docker
in_namespace() {
    HI=$WORK/connected
    # Anonymous callers only read: every client logs in with a write token
    # (made before the server starts; a running one sees it within a second).
    "$AIRLIFT" --home "$HI" user add ci >/dev/null
    PUSH=$("$AIRLIFT" --home "$HI" token create push --user ci --scope 'oci:*:read,write')
    export DOCKER_CONFIG=$WORK/docker REGISTRY_AUTH_FILE=$WORK/containers-auth.json
    start_server "$HI" 5001
    R=127.0.0.1:5001
    check "crane auth login with a write token" "$CRANE" auth login "$R" -u ci -p "$PUSH"
    check "oras login with a write token" "$ORAS" login --plain-http -u ci -p "$PUSH" "$R"
    check "skopeo login with a write token" skopeo login --tls-verify=false -u ci -p "$PUSH" "$R"

    # crane: build a random image and push it, then pull it back as a tarball.
    check "crane push a random image" sh -c "'$CRANE' append --insecure -f /dev/null -t $R/team/base:1 >/dev/null"
    head -c 2000000 /dev/urandom >"$WORK/layer.bin"
    tar -C "$WORK" -cf "$WORK/layer.tar" layer.bin
    check "crane append a layer" "$CRANE" append --insecure -b "$R/team/base:1" -f "$WORK/layer.tar" -t "$R/team/app:1.0"
    check "crane digest by tag" sh -c "'$CRANE' digest --insecure $R/team/app:1.0 >'$WORK/app.digest'"
    check "crane pull to a tarball" "$CRANE" pull --insecure "$R/team/app:1.0" "$WORK/app.tar"
    check "crane copy between repositories (cross-repository mount)" "$CRANE" copy --insecure "$R/team/app:1.0" "$R/mirror/app:1.0"
    check "crane ls lists the tag" sh -c "'$CRANE' ls --insecure $R/team/app | grep -qx 1.0"

    # oras: push an artifact with a file, attach a referrer, pull both back.
    printf 'sbom for the image\n' >"$WORK/sbom.json"
    check "oras push an artifact" sh -c "cd '$WORK' && '$ORAS' push --plain-http $R/team/artifact:v1 --artifact-type application/vnd.example.thing sbom.json"
    check "oras attach a referrer to the image" sh -c "cd '$WORK' && '$ORAS' attach --plain-http --artifact-type application/spdx+json $R/team/app:1.0 sbom.json"
    check "oras discover finds the referrer" sh -c "'$ORAS' discover --plain-http $R/team/app:1.0 | grep -q 'application/spdx+json'"
    mkdir -p "$WORK/oras-out"
    check "oras pull the artifact" "$ORAS" pull --plain-http -o "$WORK/oras-out" "$R/team/artifact:v1"
    check "oras pulled the same bytes" cmp "$WORK/sbom.json" "$WORK/oras-out/sbom.json"

    # skopeo: copy the image out to a directory and back in under another name.
    check "skopeo inspect" skopeo inspect --tls-verify=false "docker://$R/team/app:1.0"
    check "skopeo copy out to an OCI layout" skopeo copy --src-tls-verify=false "docker://$R/team/app:1.0" "oci:$WORK/layout:app"
    check "skopeo copy in from the OCI layout" skopeo copy --dest-tls-verify=false "oci:$WORK/layout:app" "docker://$R/skopeo/app:from-layout"
    check "skopeo copy registry to registry, digests preserved" skopeo copy --preserve-digests --src-tls-verify=false --dest-tls-verify=false "docker://$R/team/app:1.0" "docker://$R/skopeo/app:copied"
    check "skopeo copy keeps the digest" sh -c "[ \"\$('$CRANE' digest --insecure $R/skopeo/app:copied)\" = \"\$(cat '$WORK/app.digest')\" ]"
    # The same with the newest Debian stable's skopeo, in a throw-away copy
    # of its root (this suite's $WORK is mounted at the same path inside).
    N=$WORK/newest
    check "a throw-away copy of the $NEWEST_SUITE root" newest_enter "$N"
    check "$NEWEST_SUITE's skopeo inspect" chroot "$N" skopeo inspect --tls-verify=false "docker://$R/team/app:1.0"
    check "$NEWEST_SUITE's skopeo copy out to an OCI layout" chroot "$N" skopeo copy --src-tls-verify=false "docker://$R/team/app:1.0" "oci:$WORK/layout-newest:app"
    check "  ... the layout holds the image's layers" sh -c "chroot '$N' skopeo inspect 'oci:$WORK/layout-newest:app' >'$WORK/newest-layout.json' && for layer in \$('$CRANE' manifest --insecure $R/team/app:1.0 | python3 -c 'import json,sys; print(\" \".join(l[\"digest\"] for l in json.load(sys.stdin)[\"layers\"]))'); do grep -q \"\$layer\" '$WORK/newest-layout.json' || exit 1; done"
    check "$NEWEST_SUITE's skopeo copy in from the OCI layout" chroot "$N" skopeo copy --dest-tls-verify=false --dest-creds "ci:$PUSH" "oci:$WORK/layout-newest:app" "docker://$R/skopeo-newest/app:from-layout"
    check "$NEWEST_SUITE's skopeo copy registry to registry, digests preserved" chroot "$N" skopeo copy --preserve-digests --src-tls-verify=false --dest-tls-verify=false --dest-creds "ci:$PUSH" "docker://$R/team/app:1.0" "docker://$R/skopeo-newest/app:copied"
    check "  ... the copy keeps the digest" sh -c "[ \"\$('$CRANE' digest --insecure $R/skopeo-newest/app:copied)\" = \"\$(cat '$WORK/app.digest')\" ]"
    check "save the manifest" sh -c "'$CRANE' manifest --insecure $R/team/app:1.0 >'$WORK/app.manifest'"
    stop_server "$SERVER"

    # Every push and delete went into the tamper-evident audit log.
    check "the audit log verifies after the pushes" "$AIRLIFT" --home "$HI" audit verify
    check "the audit log records the push of the tag team/app:1.0, by ci with token push" \
        sh -c "'$AIRLIFT' --home '$HI' audit export | grep 'registry-change ' | grep '\"change\":\"push team/app@sha256:' | grep '\"principal\":\"ci\"' | grep '\"token\":\"push\"' | grep -q '\"key\":\"t:team/app:1.0\"'"

    # Across the gap: pack the connected side, import on a second home, pull again.
    "$AIRLIFT" --home "$HI" keys init >/dev/null
    check "pack the pushed images" "$AIRLIFT" --home "$HI" pack --out "$WORK/images.tar.zst"
    LO=$WORK/isolated
    check "init trust" "$AIRLIFT" --home "$LO" init --trust "$HI/keys/roots/1.root.json"
    check "import" "$AIRLIFT" --home "$LO" import "$WORK/images.tar.zst"
    check "the isolated side's audit log records the import" \
        sh -c "'$AIRLIFT' --home '$LO' audit verify >/dev/null && '$AIRLIFT' --home '$LO' --json audit export | python3 -c 'import json,sys; sys.exit([e[\"event\"] for e in json.load(sys.stdin)[\"entries\"]] != [\"trust-init\", \"import\"])'"
    start_server "$LO" 5002
    check "same digest across the gap" sh -c "[ \"\$('$CRANE' digest --insecure 127.0.0.1:5002/team/app:1.0)\" = \"\$(cat '$WORK/app.digest')\" ]"
    check "crane pull across the gap" "$CRANE" pull --insecure 127.0.0.1:5002/team/app:1.0 "$WORK/app-isolated.tar"
    check "the manifest is byte-identical across the gap" sh -c "'$CRANE' manifest --insecure 127.0.0.1:5002/team/app:1.0 | cmp - '$WORK/app.manifest'"
    check "every layer is byte-identical across the gap" sh -c "for layer in \$('$CRANE' manifest --insecure 127.0.0.1:5002/team/app:1.0 | python3 -c 'import json,sys; print(\" \".join(l[\"digest\"] for l in json.load(sys.stdin)[\"layers\"]))'); do [ \"\$('$CRANE' blob --insecure 127.0.0.1:5002/team/app@\$layer | sha256sum | cut -c1-64)\" = \"\${layer#sha256:}\" ] || exit 1; done"
    check "the referrer crossed too" sh -c "'$ORAS' discover --plain-http 127.0.0.1:5002/team/app:1.0 | grep -q 'application/spdx+json'"
    stop_server "$SERVER"

    # TLS with the site's own CA: what docker and containerd need off loopback.
    check "tls init" "$AIRLIFT" --home "$LO" tls init --name registry.test
    start_server "$LO" 5443 --tls
    check "curl verifies the server with the site CA" curl -sf --cacert "$LO/tls/ca.crt" https://127.0.0.1:5443/healthz
    check "a client without the CA is refused" sh -c "! curl -sf https://127.0.0.1:5443/healthz"
    check "crane trusts it through SSL_CERT_FILE, no --insecure" sh -c "[ \"\$(SSL_CERT_FILE='$LO/tls/ca.crt' '$CRANE' digest 127.0.0.1:5443/team/app:1.0)\" = \"\$(cat '$WORK/app.digest')\" ]"
    # A private /etc/docker for this mount namespace only.
    mount -t tmpfs tmpfs /etc/docker
    mkdir -p /etc/docker/certs.d/127.0.0.1:5443
    cp "$LO/tls/ca.crt" /etc/docker/certs.d/127.0.0.1:5443/ca.crt
    check "docker manifest inspect over TLS" sh -c "docker manifest inspect 127.0.0.1:5443/team/app:1.0 >'$WORK/docker-manifest.json'"
    check "docker sees the same layers" sh -c "SSL_CERT_FILE='$LO/tls/ca.crt' '$CRANE' manifest 127.0.0.1:5443/team/app:1.0 | python3 -c 'import json,sys; [print(l[\"digest\"]) for l in json.load(sys.stdin)[\"layers\"]]' | while read -r layer; do grep -q \"\$layer\" '$WORK/docker-manifest.json' || exit 1; done"
    stop_server "$SERVER"
}
output=$(in_gap --mount in_namespace 2>&1) || true
finish oci-clients "$output"
