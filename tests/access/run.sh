#!/usr/bin/env bash
# Access control with real container clients, inside a network namespace
# with only loopback: crane, oras and skopeo log in with tokens and a
# password; pushes, pulls and deletes are allowed or refused as the site's
# rules and each token's scopes say; a revoked token and a wrong password
# are refused; guessing is slowed; every refused write is in the audit log
# and every refusal in /metrics. And an operator mistake: serving beyond
# loopback without rules is refused before anything listens.
#
# Usage: AIRLIFT=path/to/airlift tests/access/run.sh   (as root)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
# shellcheck source=../oci/tools.sh
source "$ROOT/tests/oci/tools.sh"
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-access
CHECK_LOG=$WORK/access.log
export AIRLIFT WORK CHECK_LOG CRANE ORAS

# Runs a client with the credentials of one login (its own config file).
as() { # who command...
    local who=$1
    shift
    mkdir -p "$WORK/login-$who"
    DOCKER_CONFIG=$WORK/login-$who REGISTRY_AUTH_FILE=$WORK/login-$who/auth.json "$@"
}
# Succeeds when COMMAND fails and its output matches PATTERN.
refused() { # pattern command...
    local pattern=$1 out
    shift
    if out=$("$@" 2>&1); then
        echo "unexpectedly allowed: $*"
        return 1
    fi
    printf '%s\n' "$out"
    printf '%s\n' "$out" | grep -Eqi "$pattern"
}

in_namespace() {
    H=$WORK/home
    R=127.0.0.1:5091

    # An operator mistake, refused before anything listens.
    check "serve on 0.0.0.0 without rules is refused" \
        refused "refusing to serve on 0.0.0.0:5099 without access rules" "$AIRLIFT" --home "$H" serve --listen 0.0.0.0:5099
    check "... and says how to proceed" \
        refused "access.toml.*--anonymous-read" "$AIRLIFT" --home "$H" serve --listen 0.0.0.0:5099
    check "an access file that lets anonymous write is refused" sh -c "
        printf '[[rule]]\nwrite = [\"anonymous\"]\n' >'$WORK/open.toml'
        ! '$AIRLIFT' --home '$H' serve --access '$WORK/open.toml' --listen 127.0.0.1:5099 2>'$WORK/open.err' &&
        grep -q 'anonymous callers may only read' '$WORK/open.err'"

    cat >"$WORK/access.toml" <<'TOML'
[[rule]]
ecosystems = ["oci"]
names = ["team/*"]
read = ["ci", "ops", "@readers"]
write = ["ci"]
delete = ["ops"]

[[rule]]
ecosystems = ["oci"]
names = ["other/*"]
read = ["ci"]
write = ["ci"]
TOML
    "$AIRLIFT" --home "$H" user add ci >/dev/null
    "$AIRLIFT" --home "$H" user add reader --group readers >/dev/null
    printf 'ops has a long password\n' | "$AIRLIFT" --home "$H" user add ops --password-stdin >/dev/null
    WRITE=$("$AIRLIFT" --home "$H" token create ci-write --user ci --scope 'oci:*:read,write')
    TEAM=$("$AIRLIFT" --home "$H" token create ci-team --user ci --scope 'oci:team/*:read')
    READ=$("$AIRLIFT" --home "$H" token create reader --user reader --scope 'oci:*:read')
    export WRITE TEAM READ
    check "tokens are listed without their secrets" sh -c "'$AIRLIFT' --home '$H' token list | grep -q ci-write && ! '$AIRLIFT' --home '$H' token list | grep -q '$WRITE'"
    check "the token changes are in the audit log" sh -c "'$AIRLIFT' --home '$H' audit export | grep -c 'token-create' | grep -qx 3"

    # The server: plain HTTP, real rules, no anonymous access at all.
    start_server "$H" 5091 --access "$WORK/access.toml"

    # Logins that verify.
    check "skopeo login with a write token" as ci skopeo login --tls-verify=false -u ci -p "$WRITE" "$R"
    check "oras login with a write token" as ci "$ORAS" login --plain-http -u ci -p "$WRITE" "$R"
    check "crane auth login with a read token" as reader "$CRANE" auth login "$R" -u reader -p "$READ"
    check "oras login with a password" as ops "$ORAS" login --plain-http -u ops -p 'ops has a long password' "$R"
    check "skopeo login with a wrong password is refused" \
        refused "unauthorized|invalid username/password" skopeo login --tls-verify=false --authfile "$WORK/wrong.json" -u ops -p 'not the password!' "$R"
    check "oras login with an unknown token is refused" \
        refused "unauthorized|401" as nobody "$ORAS" login --plain-http -u ci -p airlift_notatoken "$R"

    # Pushes with the write token, into two repositories.
    check "crane push with the write token" as ci sh -c "'$CRANE' append --insecure -f /dev/null -t $R/team/app:1 >/dev/null"
    check "oras push with the write token" as ci sh -c "cd '$WORK' && echo data >data.txt && '$ORAS' push --plain-http $R/other/thing:1 data.txt"
    check "skopeo copy with the write token" as ci skopeo copy --src-tls-verify=false --dest-tls-verify=false "docker://$R/team/app:1" "docker://$R/team/copy:1"

    # A read token pulls, and pushes and deletes nothing.
    check "crane pull with the read token" as reader "$CRANE" pull --insecure "$R/team/app:1" "$WORK/app.tar"
    check "skopeo inspect with the read token" skopeo inspect --tls-verify=false --creds "reader:$READ" "docker://$R/team/app:1"
    check "a read token cannot push (crane)" \
        refused "DENIED: user .reader. .token .reader.. may not write" as reader sh -c "'$CRANE' append --insecure -f /dev/null -t $R/team/app:2"
    check "a read token cannot push (skopeo)" \
        refused "denied: user .*reader.* may not write team/app" skopeo copy --src-tls-verify=false --dest-tls-verify=false --src-creds "reader:$READ" --dest-creds "reader:$READ" "docker://$R/team/app:1" "docker://$R/team/app:3"
    check "a read token cannot delete" \
        refused "DENIED: .* may not delete team/app" as reader sh -c "'$CRANE' delete --insecure $R/team/app@\$('$CRANE' digest --insecure $R/team/app:1)"
    check "the image is still there" as reader "$CRANE" digest --insecure "$R/team/app:1"

    # Confinement: by the rules, and by the token's scopes.
    check "reader may not read other/*" \
        refused "DENIED: .* may not read other/thing" as reader "$CRANE" manifest --insecure "$R/other/thing:1"
    check "ci's team-only token may not read other/*, though ci may" \
        refused "ci-team.* may not read other/thing" skopeo inspect --tls-verify=false --creds "ci:$TEAM" "docker://$R/other/thing:1"
    check "... while ci's write token may" skopeo inspect --raw --tls-verify=false --creds "ci:$WRITE" "docker://$R/other/thing:1"

    # The catalog names only what the caller may read.
    check "reader's catalog lists team/* and not other/*" as reader sh -c "
        '$CRANE' catalog --insecure $R >'$WORK/catalog-reader' &&
        grep -qx team/app '$WORK/catalog-reader' && ! grep -q '^other/' '$WORK/catalog-reader'"
    check "ci's catalog lists both" as ci sh -c "'$CRANE' catalog --insecure $R | grep -qx other/thing"

    # Anonymous callers: nothing here.
    check "anonymous pull is refused" refused "UNAUTHORIZED|401" as anonymous "$CRANE" manifest --insecure "$R/team/app:1"
    check "anonymous push is refused" refused "UNAUTHORIZED|401" as anonymous sh -c "'$CRANE' append --insecure -f /dev/null -t $R/team/anon:1"

    # Delete with the right to delete (ops, by password).
    check "ops deletes a tag's manifest" as ops sh -c "'$CRANE' auth login $R -u ops -p 'ops has a long password' && '$CRANE' delete --insecure $R/team/copy@\$('$CRANE' digest --insecure $R/team/copy:1)"
    check "... and it is gone" refused "MANIFEST_UNKNOWN|not found|404" as ci "$CRANE" manifest --insecure "$R/team/copy:1"

    # Revocation reaches the running server within a second.
    "$AIRLIFT" --home "$H" token revoke ci-team >/dev/null
    sleep 1.5
    check "a revoked token is refused" \
        refused "the token was revoked" skopeo inspect --tls-verify=false --creds "ci:$TEAM" "docker://$R/team/app:1"

    # Guessing is slowed: after ten failures, 429 with Retry-After.
    for _ in $(seq 10); do curl -s -o /dev/null -u 'guess:wrong password' "http://$R/v2/token?service=airlift"; done
    check "the eleventh guess gets 429 with Retry-After" sh -c "curl -s -D - -o /dev/null -u 'guess:wrong password' 'http://$R/v2/token?service=airlift' | tr -d '\r' | grep -qi '^retry-after: ' &&
        [ \"\$(curl -s -o /dev/null -w '%{http_code}' -u 'guess:wrong password' 'http://$R/v2/token?service=airlift')\" = 429 ]"

    # Mutual TLS: a client certificate from the site CA logs in as its user.
    check "tls init" "$AIRLIFT" --home "$H" tls init --name localhost
    check "a client certificate for ci" "$AIRLIFT" --home "$H" tls client-cert ci-laptop --user ci --out "$WORK/certs"
    mkdir -p "$WORK/certs.d"
    cp "$H/tls/ca.crt" "$WORK/certs.d/ca.crt"
    cp "$WORK/certs/ci-laptop.crt" "$WORK/certs.d/client.cert"
    cp "$WORK/certs/ci-laptop.key" "$WORK/certs.d/client.key"
    mkdir -p "$WORK/tls-ca-only"
    cp "$H/tls/ca.crt" "$WORK/tls-ca-only/ca.crt"
    PLAIN_SERVER=$SERVER
    start_server "$H" 5092 --tls --access "$WORK/access.toml"
    check "skopeo reads other/* with ci's client certificate alone" \
        skopeo inspect --raw --cert-dir "$WORK/certs.d" "docker://localhost:5092/other/thing:1"
    check "... and without it, is refused" \
        refused "unauthorized|401" skopeo inspect --raw --authfile "$WORK/none.json" --cert-dir "$WORK/tls-ca-only" "docker://localhost:5092/other/thing:1"
    check "curl pushes with the client certificate" sh -c "
        [ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert '$H/tls/ca.crt' --cert '$WORK/certs/ci-laptop.crt' --key '$WORK/certs/ci-laptop.key' -X POST https://localhost:5092/v2/team/tls/blobs/uploads/)\" = 202 ]"
    fingerprint=$("$AIRLIFT" --home "$H" --json audit export | python3 -c 'import json,sys; print([e for e in json.load(sys.stdin)["entries"] if e["event"] == "client-cert-issue"][0]["detail"]["fingerprint"])')
    check "revoke the client certificate" "$AIRLIFT" --home "$H" tls revoke-client-cert "$fingerprint"
    sleep 1.5
    check "a revoked client certificate is refused" sh -c "
        curl -s --cacert '$H/tls/ca.crt' --cert '$WORK/certs/ci-laptop.crt' --key '$WORK/certs/ci-laptop.key' -X POST https://localhost:5092/v2/team/tls/blobs/uploads/ | grep -q 'client certificate is not accepted'"
    stop_server "$SERVER"
    SERVER=$PLAIN_SERVER

    # What was recorded.
    check "/metrics counts denied requests" sh -c "curl -sf http://$R/metrics | grep -Eq '^airlift_auth_failures_total\{reason=\"denied\"\} [1-9]'"
    check "/metrics counts revoked tokens" sh -c "curl -sf http://$R/metrics | grep -Eq '^airlift_auth_failures_total\{reason=\"revoked\"\} [1-9]'"
    check "/metrics counts rate-limited attempts" sh -c "curl -sf http://$R/metrics | grep -Eq '^airlift_auth_failures_total\{reason=\"rate_limited\"\} [1-9]'"
    stop_server "$SERVER"
    check "the audit log verifies" "$AIRLIFT" --home "$H" audit verify
    check "the refused push by reader is in the audit log, with its client" \
        sh -c "'$AIRLIFT' --home '$H' audit export | grep 'access-refused ' | grep '\"principal\":\"reader\"' | grep '\"action\":\"write\"' | grep -q '\"user_agent\":\"'"
    check "pushes name who made them" \
        sh -c "'$AIRLIFT' --home '$H' audit export | grep 'registry-change ' | grep -q '\"principal\":\"ci\",\"token\":\"ci-write\"'"
    check "the delete names ops" \
        sh -c "'$AIRLIFT' --home '$H' audit export | grep 'registry-change ' | grep '\"change\":\"delete' | grep -q '\"principal\":\"ops\"'"
}
output=$(in_gap in_namespace 2>&1) || true
finish access "$output"
