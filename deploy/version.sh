#!/bin/sh
# version.sh — the release version, from the nearest v* git tag, as a Debian
# version that sorts in commit order:
#   on tag v0.2.0                  0.2.0
#   3 commits after v0.2.0         0.2.0+3.g1a2b3c4   (sorts after 0.2.0, before 0.2.0+4.g…)
#   pre-release tag v0.3.0-rc1     0.3.0~rc1          (sorts before 0.3.0)
#   uncommitted changes            ….dirty
#   no tag                         0.0.0+N.gHASH (N: commits so far)
#   no git                         0.0.0
# The Makefile and deploy/package.sh stamp the binary and the .deb with it.
set -eu
cd "$(dirname "$0")/.."
if ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo 0.0.0
	exit 0
fi
dirty=
git diff --quiet HEAD -- 2>/dev/null || dirty=.dirty
if d=$(git describe --tags --match 'v[0-9]*' --long --abbrev=7 2>/dev/null); then
	# v0.2.0-rc1-3-g1a2b3c4: tag, commits since, hash
	hash=${d##*-g}
	rest=${d%-g*}
	n=${rest##*-}
	tag=${rest%-*}
	v=$(printf '%s' "${tag#v}" | sed 's/-/~/')
	if [ "$n" = 0 ]; then
		echo "$v${dirty:++0$dirty}"
	else
		echo "$v+$n.g$hash$dirty"
	fi
else
	echo "0.0.0+$(git rev-list --count HEAD).g$(git rev-parse --short=7 HEAD)$dirty"
fi
