#!/usr/bin/env bash
# Collect from the CNCF distribution registry (Debian's docker-registry) as
# the upstream: a multi-platform index built in the test, narrowed with
# `platforms`, carried in a bundle and pulled inside the gap. Everything runs
# in a network namespace with only loopback.
#
# Usage: AIRLIFT=path/to/airlift tests/oci/upstream.sh   (as root; run tests/oci/clients.sh first for crane)
set -euo pipefail

CRANE_VERSION=v0.22.1
AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CRANE=$ROOT/target/oci-tools/crane-$CRANE_VERSION
ORAS_VERSION=v1.3.6
ORAS=$ROOT/target/oci-tools/oras-$ORAS_VERSION
if [ ! -x "$ORAS" ]; then
    mkdir -p "$ROOT/target/oci-tools"
    GOBIN=$ROOT/target/oci-tools go install "oras.land/oras/cmd/oras@$ORAS_VERSION"
    mv "$ROOT/target/oci-tools/oras" "$ORAS"
fi
if [ ! -x "$CRANE" ]; then
    mkdir -p "$ROOT/target/oci-tools"
    GOBIN=$ROOT/target/oci-tools go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
    mv "$ROOT/target/oci-tools/crane" "$CRANE"
fi
REGISTRY=$(command -v docker-registry || true)
if [ -z "$REGISTRY" ]; then
    apt-get update -qq && apt-get install -y -qq docker-registry >/dev/null
    REGISTRY=$(command -v docker-registry)
fi
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-oci-upstream
CHECK_LOG=$WORK/upstream.log
export AIRLIFT CRANE ORAS REGISTRY WORK CHECK_LOG

in_namespace() {
    cat >"$WORK/registry.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $WORK/registry-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5010
YAML
    "$REGISTRY" serve "$WORK/registry.yml" >>"$WORK/registry.log" 2>&1 &
    registry=$!
    wait_for http://127.0.0.1:5010/v2/
    U=127.0.0.1:5010
    for arch in amd64 arm64; do
        head -c 500000 /dev/urandom >"$WORK/$arch.bin"
        tar -C "$WORK" -cf "$WORK/$arch.tar" "$arch.bin"
        check "build the $arch image in the CNCF registry" "$CRANE" append --insecure -f "$WORK/$arch.tar" -t "$U/team/app:$arch"
        check "set its platform" sh -c "'$CRANE' mutate --insecure --set-platform linux/$arch $U/team/app:$arch >/dev/null"
    done
    check "build a multi-platform index" "$CRANE" index append --insecure -m "$U/team/app:amd64" -m "$U/team/app:arm64" -t "$U/team/app:1.0"
    check "save the index" sh -c "'$CRANE' manifest --insecure $U/team/app:1.0 >'$WORK/index.json'"
    check "save the arm64 digest" sh -c "'$CRANE' digest --insecure --platform linux/arm64 $U/team/app:1.0 >'$WORK/arm64.digest'"
    check "save the index digest" sh -c "'$CRANE' digest --insecure $U/team/app:1.0 >'$WORK/index.digest'"
    # A signature in cosign's tag convention, and an SBOM attached with oras:
    # this registry has no referrers API, so oras keeps the OCI 1.1 fallback tag.
    printf '{"critical":{"image":{"docker-manifest-digest":"%s"}}}' "$(cat "$WORK/index.digest")" >"$WORK/sig.json"
    printf 'sbom\n' >"$WORK/sbom.spdx"
    signature_tag="sha256-$(cut -c8- "$WORK/index.digest").sig"
    check "push a cosign-style signature tag" sh -c "cd '$WORK' && '$ORAS' push --plain-http $U/team/app:$signature_tag --artifact-type application/vnd.dev.cosign.simplesigning.v1+json sig.json"
    check "attach an SBOM (referrers fallback tag)" sh -c "cd '$WORK' && '$ORAS' attach --plain-http --artifact-type application/spdx+json $U/team/app:1.0 sbom.spdx"

    cat >"$WORK/airlift.toml" <<TOML
[[oci]]
image = "$U/team/app:1.0"
platforms = ["linux/arm64"]
plain_http = true
TOML
    HI=$WORK/connected
    check "collect from the CNCF registry" sh -c "'$AIRLIFT' --home '$HI' --json collect --config '$WORK/airlift.toml' >'$WORK/collect.json'"
    check "the amd64 image was left out, and said so" grep -q 'linux/amd64' "$WORK/collect.json"
    kill "$registry"; wait "$registry" 2>/dev/null || true
    "$AIRLIFT" --home "$HI" keys init >/dev/null
    check "pack" "$AIRLIFT" --home "$HI" pack --out "$WORK/images.tar.zst"
    LO=$WORK/isolated
    check "init trust" "$AIRLIFT" --home "$LO" init --trust "$HI/keys/roots/1.root.json"
    check "plan shows the images" sh -c "'$AIRLIFT' --home '$LO' plan '$WORK/images.tar.zst' | grep -q 'oci/t:team/app:1.0'"
    check "plan says which platforms were left out" sh -c "'$AIRLIFT' --home '$LO' plan '$WORK/images.tar.zst' | grep -q 'platforms left out: linux/amd64'"
    check "import" "$AIRLIFT" --home "$LO" import "$WORK/images.tar.zst"
    start_server "$LO" 5011
    I=127.0.0.1:5011
    check "the index is byte-identical inside the gap" sh -c "'$CRANE' manifest --insecure $I/team/app:1.0 | cmp - '$WORK/index.json'"
    check "the arm64 image resolves to the same digest" sh -c "[ \"\$('$CRANE' digest --insecure --platform linux/arm64 $I/team/app:1.0)\" = \"\$(cat '$WORK/arm64.digest')\" ]"
    check "the arm64 image pulls" "$CRANE" pull --insecure --platform linux/arm64 "$I/team/app:1.0" "$WORK/arm64-pulled.tar"
    check "the amd64 image was not carried" sh -c "! '$CRANE' pull --insecure --platform linux/amd64 $I/team/app:1.0 '$WORK/amd64-pulled.tar'"
    check "the signature tag crossed" sh -c "'$CRANE' manifest --insecure $I/team/app:$signature_tag >/dev/null"
    check "the SBOM is a referrer inside the gap" sh -c "'$ORAS' discover --plain-http $I/team/app:1.0 | grep -q 'application/spdx+json'"
    check "airlift's SBOM of the arm64 image's layers is its referrer" sh -c "'$ORAS' discover --plain-http $I/team/app@\$(cat '$WORK/arm64.digest') | grep -q 'application/vnd.cyclonedx+json'"
    check "the generation's SBOM is served at /sbom/ and lists the image" sh -c "curl -fsS http://$I/sbom/cyclonedx.json | grep -q 'pkg:oci/app@'"
    stop_server "$SERVER"
}
output=$(in_gap in_namespace 2>&1) || true
finish oci-upstream "$output"
