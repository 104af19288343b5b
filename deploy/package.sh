#!/bin/sh
# package.sh [OUTDIR] — build bin/launchtap and a .deb of it with nfpm (deploy/nfpm.yaml).
# Installs nfpm with `go install` when it is not on PATH. Run from the repository root
# (make package does).
set -eu
out=${1:-dist}
GO=${GO:-go}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo 0.0.0)}
# Debian versions must start with a digit.
case $VERSION in [0-9]*) ;; *) VERSION=0.0.0+$VERSION ;; esac
ARCH=${ARCH:-$($GO env GOARCH)}
export VERSION ARCH
NFPM=${NFPM:-$(command -v nfpm || true)}
if [ -z "$NFPM" ]; then
	# Pinned: nfpm v2.44+ needs go.digitalxero.dev modules some module proxies refuse.
	$GO install github.com/goreleaser/nfpm/v2/cmd/nfpm@${NFPM_VERSION:-v2.43.4}
	NFPM=$($GO env GOPATH)/bin/nfpm
fi
mkdir -p bin "$out"
CGO_ENABLED=0 GOARCH=$ARCH $GO build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o bin/launchtap ./cmd/launchtap
"$NFPM" package --config deploy/nfpm.yaml --packager deb --target "$out/"
ls -l "$out"/launchtap_*.deb
