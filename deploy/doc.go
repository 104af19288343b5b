// Package deploy holds no Go code the sensor runs: its tests check the
// packaging scripts beside it (version.sh, package.sh, the deb maintainer
// scripts, nfpm.yaml). See docs/packaging.md.
package deploy
