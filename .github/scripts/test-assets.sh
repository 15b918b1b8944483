#!/usr/bin/env bash
# The tests' shared model and data files (../shared/models and ../shared/data) as one reproducible tarball,
# published once as a release asset of this repository and fetched by CI against a committed checksum.
#
#   test-assets.sh pack SHARED_DIR OUT.tar.gz   build the tarball (same bytes for the same files)
#   test-assets.sh fetch REPOSITORY DEST_DIR    download it from REPOSITORY's releases, check, unpack
#
# The name and sha256 live in .github/test-assets.sha256 (sha256sum's format), so a new tarball is a new
# release asset and a new line there; CI needs no repository variable, and a fork's pull request fetches
# the same public asset.
set -euo pipefail

SUMS="$(dirname "${BASH_SOURCE[0]}")/../test-assets.sha256"
# The release that carries the asset (created once by hand: gh release create test-assets <file>).
readonly RELEASE_TAG=test-assets

case "${1:-}" in
    pack)
        shared="$2" out="$3"
        # Sorted names, fixed owner and times, gzip without a timestamp: the checksum follows the content.
        tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=2026-01-01T00:00:00Z \
            -C "$shared" -cf - models data | gzip -9n >"$out"
        sha256sum "$out" | sed "s|  .*/|  |"
        ;;
    fetch)
        repository="$2" dest="$3"
        read -r sum name <"$SUMS"
        mkdir -p "$dest"
        curl -fsSL --retry 3 -o "$dest/$name" "https://github.com/$repository/releases/download/$RELEASE_TAG/$name"
        (cd "$dest" && printf '%s  %s\n' "$sum" "$name" | sha256sum --check --strict -)
        tar -xzf "$dest/$name" -C "$dest"
        rm "$dest/$name"
        ;;
    *)
        echo "usage: $0 pack SHARED_DIR OUT.tar.gz | fetch OWNER/REPO DEST_DIR" >&2
        exit 2
        ;;
esac
