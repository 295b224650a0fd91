#!/usr/bin/env bash
# The monitoring shipped under deploy/, checked by Prometheus itself.
#
# promtool (Debian's `prometheus` package) checks the rules and the scrape
# example, and runs the rules' unit tests (tests/monitoring/rules.test.yml:
# every alert fires where it should and stays quiet where it should not);
# every alert must have one, and a rule made wrong must fail them.
#
# Then, inside a network namespace with only loopback: a site imports a
# bundle of two files (collected through file:// URLs outside), `airlift
# drift` checks it, `airlift serve` serves it with access rules, and a real
# Prometheus (the Debian package's binary, scraping every second, with the
# rules loaded) watches while a scripted workload runs: downloads (200), a
# missing file (404), reads refused without and with wrong credentials
# (401), a tampered bundle whose import is refused, and a newer bundle
# imported (`airlift import` counts both in the index, where the server
# reads them). Every rule must load and evaluate without error, and every PromQL
# expression of every rule and of every dashboard panel and variable
# (deploy/grafana/airlift.json) must return data through Prometheus's HTTP
# API (tests/monitoring/promql.py; an alert is checked with its
# comparisons made `bool` ones, so that a quiet alert still shows its
# series exist): the rules and the dashboard refer only to metrics that
# exist. A misspelt metric must come back empty. Last, in that
# Prometheus: the refused import makes AirliftImportRefused fire, a damaged
# blob found by `airlift drift` the drift alert, a certificate made to
# expire soon the certificate alert, and an edited audit log
# AirliftAuditVerificationFailing.
#
# Usage: AIRLIFT=path/to/airlift tests/monitoring/run.sh   (as root)
#   PROMTOOL, PROMETHEUS: default /usr/bin/promtool, /usr/bin/prometheus.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
PROMTOOL=${PROMTOOL:-/usr/bin/promtool}
PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-monitoring
CHECK_LOG=$WORK/monitoring.log
HERE=$ROOT/tests/monitoring
RULES=$ROOT/deploy/prometheus/airlift.rules.yml
DASHBOARD=$ROOT/deploy/grafana/airlift.json
export AIRLIFT WORK CHECK_LOG PROMETHEUS HERE RULES DASHBOARD
echo "monitoring: $("$PROMETHEUS" --version 2>&1 | head -1)"

# --- the rules, offline ---------------------------------------------------
check "promtool check rules deploy/prometheus/airlift.rules.yml" "$PROMTOOL" check rules "$RULES"
check "promtool check config deploy/prometheus/scrape.example.yml" \
    sh -c "cd '$ROOT/deploy/prometheus' && '$PROMTOOL' check config scrape.example.yml"
check "promtool test rules tests/monitoring/rules.test.yml" "$PROMTOOL" test rules "$HERE/rules.test.yml"
while read -r alert; do
    check "$alert has a unit test" grep -q "alertname: $alert\$" "$HERE/rules.test.yml"
done < <(sed -nE 's/^ *- alert: *([A-Za-z0-9_]+).*/\1/p' "$RULES")
# The unit tests must be able to fail: the same tests against rules whose
# 5xx threshold is wrong.
mkdir -p "$WORK/wrong/deploy/prometheus" "$WORK/wrong/tests/monitoring"
sed 's/> 0\.05$/> 0.5/' "$RULES" >"$WORK/wrong/deploy/prometheus/airlift.rules.yml"
cp "$HERE/rules.test.yml" "$WORK/wrong/tests/monitoring/"
check "promtool test rules fails for a wrong threshold" \
    sh -c "! '$PROMTOOL' test rules '$WORK/wrong/tests/monitoring/rules.test.yml'"
check "the dashboard's panels are well formed" python3 "$HERE/promql.py" lint "$DASHBOARD"

# --- connected side: a bundle of two files ----------------------------------
mkdir -p "$WORK/files" "$WORK/media"
: >"$WORK/airlift.toml"
for name in tool.bin readme.txt; do
    head -c 100000 /dev/urandom >"$WORK/files/$name"
    digest=$(sha256sum "$WORK/files/$name" | cut -d' ' -f1)
    printf '[[files]]\nurl = "file://%s"\nsha256 = "%s"\npath = "dist/%s"\n\n' \
        "$WORK/files/$name" "$digest" "$name" >>"$WORK/airlift.toml"
done
HI=$WORK/connected
check "collect two files" "$AIRLIFT" --home "$HI" collect --config "$WORK/airlift.toml"
check "keys init" "$AIRLIFT" --home "$HI" keys init
check "pack" "$AIRLIFT" --home "$HI" pack --out "$WORK/media/transfer.tar.zst"
cp "$HI/keys/roots/1.root.json" "$WORK/media/root.json"
# A second bundle, with a third file, imported during the workload; and a
# copy of it with one byte of a carried file flipped, which the site must
# refuse (its digest no longer matches the signed one).
head -c 100000 /dev/urandom >"$WORK/files/notes.txt"
printf '[[files]]\nurl = "file://%s"\nsha256 = "%s"\npath = "dist/notes.txt"\n' \
    "$WORK/files/notes.txt" "$(sha256sum "$WORK/files/notes.txt" | cut -d' ' -f1)" >>"$WORK/airlift.toml"
check "collect a third file" "$AIRLIFT" --home "$HI" collect --config "$WORK/airlift.toml"
check "pack a second bundle" "$AIRLIFT" --home "$HI" pack --out "$WORK/media/second.tar.zst"
tamper() { # bundle.tar.zst out.tar.zst
    zstd -qdc "$1" >"$WORK/tamper.tar" &&
        python3 -c '
import sys, tarfile
path = sys.argv[1]
with tarfile.open(path) as tar:
    member = max(tar.getmembers(), key=lambda m: m.size)
with open(path, "r+b") as f:
    f.seek(member.offset_data + member.size // 2)
    byte = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([byte[0] ^ 0xFF]))
' "$WORK/tamper.tar" &&
        zstd -qf "$WORK/tamper.tar" -o "$2"
}
check "a tampered copy of the second bundle" tamper "$WORK/media/second.tar.zst" "$WORK/media/tampered.tar.zst"

# --- isolated side: the site, watched by Prometheus -------------------------

# Succeeds when curl ARG... answers HTTP status WANT.
status_is() { # want curl-arg...
    local want=$1 code
    shift
    code=$(curl -s -o /dev/null -w '%{http_code}' "$@")
    echo "HTTP $code (want $want): $*"
    [ "$code" = "$want" ]
}

# Polls until EXPR returns data (rules are evaluated every second, but the
# first samples of a new series need a scrape or two), for up to SECONDS
# (default 30).
wait_for_data() { # kind expr [seconds]
    local until=$((SECONDS + ${3:-30}))
    while [ $SECONDS -lt $until ]; do
        python3 "$HERE/promql.py" query "$PROM" "$1" "$2" >/dev/null 2>&1 && return 0
        sleep 1
    done
    return 1
}

site() {
    CHECK_PREFIX="[gap] "
    check_only_loopback
    H=$WORK/site
    A=http://127.0.0.1:5121
    PROM=http://127.0.0.1:5122
    check "init trust" "$AIRLIFT" --home "$H" init --trust "$WORK/media/root.json"
    check "import" "$AIRLIFT" --home "$H" import "$WORK/media/transfer.tar.zst"
    check "drift finds nothing" "$AIRLIFT" --home "$H" drift
    # The site's CA and server certificate: their expiry is a metric (the
    # server reads them whether or not it serves TLS).
    check "tls init" "$AIRLIFT" --home "$H" tls init
    # The site's apt signing key: it never expires (+Inf).
    check "apt key" sh -c "'$AIRLIFT' --home '$H' apt key >/dev/null"

    cat >"$WORK/access.toml" <<'TOML'
[[rule]]
ecosystems = ["files"]
names = ["dist/*"]
read = ["anonymous"]

[[rule]]
ecosystems = ["files"]
names = ["private/*"]
read = ["ops"]
TOML
    printf 'ops has a long password\n' | "$AIRLIFT" --home "$H" user add ops --password-stdin >/dev/null
    start_server "$H" 5121 --access "$WORK/access.toml"

    cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $RULES
scrape_configs:
  - job_name: airlift
    static_configs:
      - targets: ["127.0.0.1:5121"]
YAML
    "$PROMETHEUS" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus" \
        --web.listen-address=127.0.0.1:5122 --log.level=warn >>"$WORK/prometheus.log" 2>&1 &
    stop_at_exit $!
    check "Prometheus is ready" wait_for "$PROM/-/ready"

    # The workload, twice, a few scrapes apart: a counter's series appears
    # at its first event, and Prometheus sees an increase only between two
    # scrapes of it.
    check "Prometheus scraped airlift before the workload" wait_for_data query 'up{job="airlift"} == 1'
    for round in 1 2; do
        CHECK_PREFIX="[gap] [round $round] "
        for _ in 1 2 3; do
            check "a carried file is served (200)" status_is 200 "$A/files/dist/tool.bin"
        done
        check "a range of it (206)" status_is 206 -H 'Range: bytes=0-99' "$A/files/dist/readme.txt"
        check "a file the site does not carry (404)" status_is 404 "$A/files/dist/absent.bin"
        check "a private file without credentials (401)" status_is 401 "$A/files/private/plans.txt"
        check "a private file with a wrong password (401)" \
            status_is 401 -u ops:not-the-password "$A/files/private/plans.txt"
        check "/metrics counts the refusals" \
            sh -c "curl -sf '$A/metrics' | grep -q 'airlift_auth_failures_total{reason=\"wrong_password\"} $round'"
        if [ "$round" = 1 ]; then
            # Imports while the server runs, in another process: a refused
            # one (exit 3) that leaves the generation as it was, then an
            # accepted one.
            check "the tampered bundle is refused (exit 3)" \
                sh -c "'$AIRLIFT' --home '$H' import '$WORK/media/tampered.tar.zst' >'$WORK/tampered.out' 2>&1; test \$? -eq 3"
            check "/metrics counts the refusal as tampered" \
                sh -c "curl -sf '$A/metrics' | grep -qx 'airlift_import_refusals_total{reason=\"tampered\"} 1'"
            check "the refused import left generation 1 current" \
                sh -c "curl -sf '$A/metrics' | grep -qx 'airlift_generation 1'"
            sleep 2
            check "the second bundle is imported" "$AIRLIFT" --home "$H" import "$WORK/media/second.tar.zst"
            check "/metrics counts two imports, generation 2" \
                sh -c "curl -sf '$A/metrics' | grep -qx 'airlift_imports_total 2' && curl -sf '$A/metrics' | grep -qx 'airlift_generation 2'"
            check "/metrics has the import's duration" \
                sh -c "curl -sf '$A/metrics' | grep -q '^airlift_operation_last_duration_seconds{operation=\"import\"} '"
        fi
        sleep 3
    done
    CHECK_PREFIX="[gap] "
    check "/metrics: the apt signing key never expires (+Inf)" \
        sh -c "curl -sf '$A/metrics' | grep -qx 'airlift_apt_signing_key_expires_timestamp_seconds inf'"
    check "/metrics: the audit log verifies" \
        sh -c "curl -sf '$A/metrics' | grep -qx 'airlift_audit_verified 1'"
    check "AirliftImportRefused fires in Prometheus for the tampered bundle" \
        wait_for_data query 'ALERTS{alertname="AirliftImportRefused",alertstate="firing",reason="tampered",job="airlift"}'

    check "Prometheus scraped the workload's refusals" \
        wait_for_data query 'airlift:auth_failures:increase5m{job="airlift"} > 0'
    check "Prometheus scraped the workload's downloads" \
        wait_for_data query 'airlift:http_response_bytes:rate5m{route="files"} > 0'
    check "the target is up" wait_for_data query 'up{job="airlift"} == 1'
    check "every rule loaded and evaluates without error" \
        python3 "$HERE/promql.py" rules "$PROM" "$(grep -cE '^ *- (record|alert):' "$RULES")"

    python3 "$HERE/promql.py" expressions "$PROM" "$DASHBOARD" >"$WORK/expressions.tsv" || true
    expected=$(($(grep -cE '^ *- (record|alert):' "$RULES") + $(grep -c '"expr":' "$DASHBOARD") + 1))
    check "every rule, panel target and variable is there to evaluate ($expected)" \
        test "$(wc -l <"$WORK/expressions.tsv")" -eq "$expected"
    while IFS=$'\t' read -r source kind expr; do
        check "$source returns data" python3 "$HERE/promql.py" query "$PROM" "$kind" "$expr"
    done <"$WORK/expressions.tsv"

    # The evaluation must be able to fail.
    check "a misspelt metric returns nothing" \
        sh -c "! python3 '$HERE/promql.py' query '$PROM' query 'sum(rate(airlift_http_request_total[1m]))'"
    check "an alert on a misspelt metric returns nothing" \
        sh -c "! python3 '$HERE/promql.py' query '$PROM' alert 'airlift_drift_integrity_problem > 0'"
    check "no drift alert fires while drift found nothing" \
        sh -c "! python3 '$HERE/promql.py' query '$PROM' query 'ALERTS{alertname=\"AirliftDriftIntegrity\"}'"

    # A damaged blob: drift finds it (exit 5), the next scrape carries the
    # count, and the alert fires.
    blob=$(find "$H/store/blobs" -type f -size 100000c | head -1)
    check "damage a carried file's blob ($blob)" \
        sh -c "test -n '$blob' && printf damaged | dd of='$blob' bs=1 seek=10 conv=notrunc status=none"
    check "drift finds the damaged blob (exit 5)" \
        sh -c "'$AIRLIFT' --home '$H' drift >'$WORK/drift.out' 2>&1; test \$? -eq 5"
    check "AirliftDriftIntegrity fires in Prometheus" \
        wait_for_data query 'ALERTS{alertname="AirliftDriftIntegrity",alertstate="firing",job="airlift"}'

    # A server certificate made to expire in 3 days: its expiry is scraped
    # and the alert triggers (pending: it waits 10 minutes to fire).
    check "no certificate alert while the certificate has 397 days" \
        sh -c "! python3 '$HERE/promql.py' query '$PROM' query 'ALERTS{alertname=\"AirliftCertificateExpiresSoon\"}'"
    check "a server certificate that expires in 3 days" \
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3 \
        -subj /CN=localhost -keyout "$WORK/short.key" -out "$H/tls/server.crt"
    check "the metric says under 4 days" \
        wait_for_data query 'airlift_tls_certificate_expires_timestamp_seconds{certificate="server"} - time() < 4 * 86400'
    check "AirliftCertificateExpiresSoon triggers for it" \
        wait_for_data query 'ALERTS{alertname="AirliftCertificateExpiresSoon",certificate="server",job="airlift"}'

    # An audit entry edited in place: the server verifies the log again
    # within 30 seconds of a change, and the alert fires.
    check "no audit alert while the log verifies" \
        sh -c "! python3 '$HERE/promql.py' query '$PROM' query 'ALERTS{alertname=\"AirliftAuditVerificationFailing\"}'"
    check "edit the import's audit entry" \
        sed -i '0,/"event":"import"/s//"event":"imp0rt"/' "$H/audit/log.jsonl"
    check "airlift audit verify finds it" \
        sh -c "! '$AIRLIFT' --home '$H' audit verify >/dev/null 2>&1"
    check "AirliftAuditVerificationFailing fires in Prometheus" \
        wait_for_data query 'ALERTS{alertname="AirliftAuditVerificationFailing",alertstate="firing",job="airlift"}' 90
}

output=$(in_gap site 2>&1) || true
finish monitoring "$output"
