# shellcheck shell=bash
# Sourced by tests/apt/run.sh and bench/apt.sh.
#
# Sets CODENAME (this machine's Debian release), MIRROR (the archive root its
# apt sources use for that release, read at run time from
# /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list; empty when
# none; never written into the repository: upstreams are configuration) and
# DEBIAN_KEYRING.
#
#   apt_root DIR   an empty apt state, cache and configuration under DIR
#                  (DIR/apt.conf, for APT_CONFIG; sources go in
#                  DIR/etc/sources.list or DIR/etc/sources.list.d/), with an
#                  empty dpkg status: apt-get then works on its own, not on
#                  this machine's system.
CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
MIRROR=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v s="$CODENAME" '
    /^URIs:/ {u=$2} /^Suites:/ {for (i=2;i<=NF;i++) if ($i==s) found=u} /^$/ {u=""}
    END {print found}')
if [ -z "$MIRROR" ]; then
    MIRROR=$(grep -hE "^deb +(\[[^]]*\] +)?[a-z]+://[^ ]+ +$CODENAME( |$)" /etc/apt/sources.list 2>/dev/null \
        | sed -E 's/^deb +(\[[^]]*\] +)?//' | awk '{print $1; exit}')
fi
# For the scripts that source this file.
# shellcheck disable=SC2034
DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# The tests run as root with state under a private (0700) work directory,
# which apt's download sandbox user `_apt` cannot enter; apt would then
# fall back to downloading as root with a warning that the checks count as
# a failure, so the sandbox user is root from the start.
apt_root() {
    local A=$1
    rm -rf "$A"
    mkdir -p "$A/etc/sources.list.d" "$A/etc/preferences.d" "$A/etc/apt.conf.d" \
        "$A/state/lists/partial" "$A/cache/archives/partial"
    touch "$A/status"
    cat >"$A/apt.conf" <<CONF
Dir::Etc "$A/etc";
Dir::State "$A/state";
Dir::State::status "$A/status";
Dir::Cache "$A/cache";
Debug::NoLocking "true";
APT::Architecture "amd64";
Acquire::Languages "none";
APT::Sandbox::User "root";
CONF
}
