# shellcheck shell=bash
# Sourced by the packaging scripts: a deb-src entry for Debian's bookworm and trixie source
# indexes on this machine's own mirror (taken from its apt sources; no host name is written
# down here), so `apt-get source --download-only` can fetch the sources we build ourselves.

jkbms_sudo=()
[ "$(id -u)" -ne 0 ] && jkbms_sudo=(sudo)

jkbms_add_deb_src() {
    local list=/etc/apt/sources.list.d/jkbms-deb-src.sources uri=""
    # Written by an earlier version with trixie only: rewrite it.
    if [ -f "$list" ] && grep -q "bookworm trixie" "$list"; then
        return 0
    fi
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1=="deb" && $0 ~ /bookworm/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
    fi
    if [ -z "$uri" ]; then
        echo "cannot find this machine's Debian mirror in its apt sources" >&2
        exit 1
    fi
    echo "== Adding a deb-src entry (bookworm, trixie) from this machine's mirror"
    printf 'Types: deb-src\nURIs: %s\nSuites: bookworm trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uri" | "${jkbms_sudo[@]}" tee "$list" >/dev/null
    # Some index (e.g. a foreign architecture's security index) may fail: not ours to fix.
    "${jkbms_sudo[@]}" apt-get update -qq || true
}

# jkbms_fetch_source PACKAGE=VERSION TARBALL SHA256 DIR: the .orig.tar.gz into DIR, checked.
# Some mirrors lack the .dsc / .debian.tar.xz: only the tarball and its checksum count.
jkbms_fetch_source() {
    local spec=$1 tarball=$2 sha=$3 dir=$4
    mkdir -p "$dir"
    if echo "$sha  $dir/$tarball" | sha256sum -c --status 2>/dev/null; then
        return 0
    fi
    jkbms_add_deb_src
    echo "== Fetching the source of $spec"
    (cd "$dir" && apt-get source --download-only -qq "$spec" >/dev/null 2>&1 || true)
    if ! echo "$sha  $dir/$tarball" | sha256sum -c --status; then
        echo "$tarball missing or with a wrong checksum" >&2
        exit 1
    fi
}
