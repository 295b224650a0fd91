# shellcheck shell=bash
# Sourced by tests/apt/run.sh and tests/oci/clients.sh: the clients of the
# newest Debian stable release, to test alongside the machine's own (the
# oldest supported one). A newer release's binaries need its own C library,
# so they run inside a minimal root of that release, built once with
# mmdebstrap from the machine's own Debian mirror (read from its apt sources
# at run time, never written here) and cached outside the clone, since CI
# builds it once per fresh machine.
#
#   NEWEST_SUITE            the newest Debian stable release's codename.
#   NEWEST_DIR              ${XDG_CACHE_HOME:-$HOME/.cache}/airlift/$NEWEST_SUITE-root:
#                           rootfs/ (the root) and versions (its Debian point
#                           release and its apt and skopeo versions; written
#                           last, so its presence marks the root complete).
#   newest_root             build NEWEST_DIR unless it is complete (into
#                           NEWEST_DIR.partial, renamed when done; under a
#                           lock, so two suites never build it at once),
#                           set NEWEST_BUILT ("cached", how long the build
#                           took, or why it failed) and NEWEST_APT_VERSION and
#                           NEWEST_SKOPEO_VERSION from its versions file;
#                           fails when the root cannot be built. Delete
#                           NEWEST_DIR to get the suite's current versions.
#   newest_enter DIR        inside a mount namespace (in_gap --mount): mount
#                           a throw-away copy of the root at DIR (an overlay,
#                           so that the cached root never changes), with
#                           /proc, /dev and the suite's $WORK (at the same
#                           path) inside; run commands there with
#                           `chroot DIR ...`.
NEWEST_SUITE=trixie
NEWEST_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/airlift/$NEWEST_SUITE-root

# The variables it sets are for the scripts that source this file.
# shellcheck disable=SC2034
newest_root() {
    local lock out
    NEWEST_APT_VERSION="" NEWEST_SKOPEO_VERSION=""
    mkdir -p "$(dirname "$NEWEST_DIR")"
    exec {lock}>"$NEWEST_DIR.lock"
    flock "$lock"
    if [ -f "$NEWEST_DIR/versions" ]; then
        NEWEST_BUILT="cached"
    elif out=$(newest_build 2>&1); then
        printf '%s\n' "$out" >&2
        NEWEST_BUILT=${out##*$'\n'}
    else
        printf '%s\n' "$out" >&2
        NEWEST_BUILT="NOT BUILT: ${out##*$'\n'}"
        rm -rf "$NEWEST_DIR.partial"
    fi
    exec {lock}>&-
    if [ -f "$NEWEST_DIR/versions" ]; then
        NEWEST_APT_VERSION=$(awk '$1 == "apt" {print $2}' "$NEWEST_DIR/versions")
        NEWEST_SKOPEO_VERSION=$(awk '$1 == "skopeo" {print $2}' "$NEWEST_DIR/versions")
    fi
    [ -n "$NEWEST_APT_VERSION" ] && [ -n "$NEWEST_SKOPEO_VERSION" ]
}

# Builds NEWEST_DIR; its last line on stderr says how long that took, or why
# it failed. Called under `check`, where errexit is off, so each step says
# whether it failed.
newest_build() {
    local dir=$NEWEST_DIR mirror start=$SECONDS
    # The machine's mirror: the archive root its apt sources use for its own
    # release; the newer suite lives under the same root.
    # shellcheck source=apt/lib.sh
    mirror=$(source "$(dirname "${BASH_SOURCE[0]}")/apt/lib.sh" && echo "$MIRROR")
    if [ -z "$mirror" ]; then
        echo "no Debian mirror in this machine's apt sources" >&2
        return 1
    fi
    rm -rf "$dir.partial" "$dir"
    mkdir -p "$dir.partial"
    if ! mmdebstrap --quiet --mode=root --variant=apt \
        --include=apt,skopeo,ca-certificates \
        --aptopt='Acquire::Languages "none"' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        "$NEWEST_SUITE" "$dir.partial/rootfs" "$mirror"; then
        echo "mmdebstrap could not build a $NEWEST_SUITE root from $mirror" >&2
        return 1
    fi
    # The root's own sources point at the connected mirror; a test writes its
    # own. The documentation was left out to keep the root small, but a
    # package the tests install must get all of its files.
    rm -f "$dir.partial/rootfs/etc/apt/sources.list" "$dir.partial/rootfs/etc/dpkg/dpkg.cfg.d/99mmdebstrap"
    # dpkg-query's format, not the shell's.
    # shellcheck disable=SC2016
    if ! { echo "debian $(cat "$dir.partial/rootfs/etc/debian_version")" &&
        chroot "$dir.partial/rootfs" dpkg-query -W -f '${Package} ${Version}\n' apt skopeo; } >"$dir.partial/versions.tmp" ||
        ! mv "$dir.partial/versions.tmp" "$dir.partial/versions" || ! mv "$dir.partial" "$dir"; then
        echo "could not record the $NEWEST_SUITE root's versions" >&2
        return 1
    fi
    echo "built in $((SECONDS - start)) s, $(du -sh "$dir/rootfs" | cut -f1)" >&2
}

newest_enter() {
    local mnt=$1 layer=$WORK/newest-overlay
    mkdir -p "$mnt" "$layer/upper" "$layer/work"
    mount -t overlay overlay \
        -o "lowerdir=$NEWEST_DIR/rootfs,upperdir=$layer/upper,workdir=$layer/work" "$mnt" || return 1
    mount -t proc proc "$mnt/proc"
    mount --rbind /dev "$mnt/dev"
    mkdir -p "$mnt$WORK"
    mount --bind "$WORK" "$mnt$WORK"
}
