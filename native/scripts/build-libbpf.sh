#!/bin/sh
# Builds a position-independent libbpf.a (and its headers) into $1 from the source of the libbpf
# package the distribution ships (Debian's libbpf.a is not built with -fPIC, so
# it cannot go into libtcpulse.so). Uses a private apt source list: the host's
# apt configuration is left untouched.
set -eu
out=$(realpath -m "$1")
[ -f "$out/libbpf.a" ] && exit 0
work="$out/src"
rm -rf "$work" && mkdir -p "$work/lists/partial"
. /etc/os-release
cat > "$work/src.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: ${VERSION_CODENAME}
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt_opts="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$work -o Dir::State::Lists=$work/lists -o APT::Sandbox::User=root -qq"
# shellcheck disable=SC2086
apt-get $apt_opts update
# shellcheck disable=SC2086
(cd "$work" && apt-get $apt_opts source --download-only libbpf)
tar -xzf "$work"/libbpf_*.orig.tar.gz -C "$work"
tree=$(find "$work" -maxdepth 1 -type d -name 'libbpf-*' | head -1)
# apply the distribution's patches, as its package does
if ls "$work"/libbpf_*.debian.tar.xz >/dev/null 2>&1; then
    tar -xJf "$work"/libbpf_*.debian.tar.xz -C "$tree"
    if [ -f "$tree/debian/patches/series" ]; then
        grep -v '^#' "$tree/debian/patches/series" | while read -r p; do
            [ -n "$p" ] && patch -d "$tree" -p1 -s < "$tree/debian/patches/$p"
        done
    fi
fi
make -s -C "$tree/src" BUILD_STATIC_ONLY=1 OBJDIR="$out/obj" EXTRA_CFLAGS="-fPIC -O2" \
    DESTDIR="$out" PREFIX= INCLUDEDIR=/include LIBDIR=/obj install_headers "$out/obj/libbpf.a"
cp "$out/obj/libbpf.a" "$out/libbpf.a"
echo "build-libbpf: built $out/libbpf.a and headers from $(basename "$tree") (-fPIC)"
