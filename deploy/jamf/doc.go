// Package jamfdeploy holds what is deployed to Jamf Pro: the extension
// attribute script launchd-jobs-ea.sh that reports a Mac's launchd jobs. Its
// test runs the script against a fake macOS file system, with stand-ins for
// plutil, stat and dscl, under both BWK awk (macOS's awk) and mawk, and
// parses the output with enrich/jamf.ParseEA.
package jamfdeploy
