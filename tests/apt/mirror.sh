# Sourced: sets CODENAME (this machine's Debian release) and MIRROR (the
# archive root its apt sources use for that release, read at run time from
# /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list; empty when
# none). Never written into the repository: upstreams are configuration.
CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
MIRROR=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v s="$CODENAME" '
    /^URIs:/ {u=$2} /^Suites:/ {for (i=2;i<=NF;i++) if ($i==s) found=u} /^$/ {u=""}
    END {print found}')
if [ -z "$MIRROR" ]; then
    MIRROR=$(grep -hE "^deb +(\[[^]]*\] +)?[a-z]+://[^ ]+ +$CODENAME( |$)" /etc/apt/sources.list 2>/dev/null \
        | sed -E 's/^deb +(\[[^]]*\] +)?//' | awk '{print $1; exit}')
fi
DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
