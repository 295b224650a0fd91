# shellcheck shell=bash
# osv-scanner, pinned, built once with `go install` into the user's cache
# (outside the clone, so CI builds it once per machine); sourced, sets
# OSV_SCANNER. v2.5.0 is the newest release that builds with this machine's
# Go (v2.6.0 asks for Go 1.27); its offline matcher gives the same findings
# on tests/advisories/fixtures as v2.6.0 did when both were compared.
OSV_SCANNER_VERSION=v2.5.0
osv_dir="${XDG_CACHE_HOME:-$HOME/.cache}/airlift-peers/osv-scanner-$OSV_SCANNER_VERSION"
if [ ! -x "$osv_dir/osv-scanner" ]; then
    mkdir -p "$osv_dir"
    echo "building osv-scanner $OSV_SCANNER_VERSION into $osv_dir" >&2
    GOBIN=$osv_dir go install "github.com/google/osv-scanner/v2/cmd/osv-scanner@$OSV_SCANNER_VERSION"
fi
export OSV_SCANNER=$osv_dir/osv-scanner
export OSV_SCANNER_VERSION
