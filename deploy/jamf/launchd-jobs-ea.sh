#!/bin/sh
# launchtap — Jamf Pro extension attribute: this Mac's launchd jobs as JSON.
#
# Add it in Jamf Pro under Settings > Computer management > Extension
# attributes: Display Name "launchtap launchd jobs" (or what --jamf-ea-name
# says), Data Type String, Input Type Script, this file as the script. Jamf
# runs it as root at every inventory update (recon) and stores what is
# printed between <result> and </result>; launchtap reads it through the
# Jamf Pro API (GET /api/v1/computers-inventory?section=EXTENSION_ATTRIBUTES).
#
# It reads the directories osquery's launchd table reads:
#   /System/Library/LaunchDaemons /System/Library/LaunchAgents
#   /Library/LaunchDaemons /Library/LaunchAgents
#   ~/Library/LaunchAgents of every local user (from Directory Services)
# and prints, for every file there:
#   {"path","owner","mtime","team_id","plist":{Label, Program,
#    ProgramArguments, RunAtLoad, KeepAlive, StartInterval,
#    StartCalendarInterval, Disabled, UserName}}
#   or  {"path","owner","mtime","error":"…"}
# inside {"v":2,"generated":"<UTC time>","truncated":false,"jobs":[…]}.
# team_id (format version 2) is the TeamIdentifier `codesign -dv` reports for
# the job's program (Program, else ProgramArguments[0]); it is left out for
# Apple's platform binaries (/System, /usr/libexec, …: no team), unsigned or
# ad-hoc signed programs, and programs that are not there. launchtap's
# baseline binds vendor rules to it, so malware cannot borrow a vendor's
# label. launchtap still reads version 1 (no team IDs).
#
# Stock macOS tools only: sh, plutil, stat, dscl, codesign, awk, sed, tr, date. No
# python, no osascript, no jq. plutil converts each plist to JSON (so no key
# is mistranslated: KeepAlive may be a dictionary, StartCalendarInterval a
# dictionary or an array); awk keeps only the keys above. A plist holding
# <date> or <data> values cannot be converted whole and is read key by key.
# Expected (not measured on a Mac): a few seconds for ~500 plists and a value of
# roughly 100–200 KB with /System included.

PATH=/usr/bin:/bin:/usr/sbin:/sbin
export PATH
LC_ALL=C
export LC_ALL

ROOT=""             # prefix for tests; empty on a Mac
INCLUDE_SYSTEM=1    # 0 skips /System/Library (Apple's sealed, read-only volume) to shrink the value
MAX_JOBS=3000       # entries reported at most; beyond: "truncated": true
MAX_PLIST_BYTES=262144

json_escape() {
	tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'
}

# plist_keys FILE: the interesting keys of a plist plutil cannot convert
# whole, as a JSON object (or nothing).
plist_keys() {
	out=""
	for k in Label Program UserName; do
		v=$(plutil -extract "$k" raw -o - "$1" 2>/dev/null) || continue
		out="$out,\"$k\":\"$(printf '%s' "$v" | json_escape)\""
	done
	for k in RunAtLoad Disabled StartInterval KeepAlive; do
		v=$(plutil -extract "$k" raw -o - "$1" 2>/dev/null) || continue
		case $v in
		true | false) ;;
		'' | *[!0-9]*) continue ;;
		esac
		out="$out,\"$k\":$v"
	done
	for k in ProgramArguments StartCalendarInterval KeepAlive; do
		case $out in *"\"$k\":"*) continue ;; esac
		v=$(plutil -extract "$k" json -o - "$1" 2>/dev/null | tr -d '\n') || continue
		[ -n "$v" ] || continue
		out="$out,\"$k\":$v"
	done
	[ -n "$out" ] && printf '{%s}' "${out#,}"
}

# team_of PROGRAM: the code-signing team identifier of the program, or
# nothing. Apple's platform binaries on the sealed system volume carry none,
# so they are not asked (it also keeps the script fast).
team_of() {
	case $1 in
	/System/* | /usr/bin/* | /usr/sbin/* | /usr/libexec/* | /bin/* | /sbin/*) return 0 ;;
	/*) ;;
	*) return 0 ;;
	esac
	[ -e "$ROOT$1" ] || return 0
	codesign -dv "$ROOT$1" 2>&1 | sed -n 's/^TeamIdentifier=\([A-Z0-9]\{10\}\)$/\1/p' | sed -n 1p
}

# emit FILE: one record for the awk below.
emit() {
	f=$1
	rel=${f#"$ROOT"}
	p=$(printf '%s' "$rel" | json_escape)
	owner=$(stat -f %Su "$f" 2>/dev/null | json_escape)
	mtime=$(stat -f %m "$f" 2>/dev/null)
	size=$(stat -f %z "$f" 2>/dev/null)
	printf 'F\t%s\t%s\t%s\n' "$p" "$owner" "${mtime:-0}"
	if [ "${size:-0}" -gt "$MAX_PLIST_BYTES" ]; then
		printf 'E\tlarger than %s bytes\n' "$MAX_PLIST_BYTES"
		return
	fi
	prog=$(plutil -extract Program raw -o - "$f" 2>/dev/null) ||
		prog=$(plutil -extract ProgramArguments.0 raw -o - "$f" 2>/dev/null) || prog=""
	team=$(team_of "$prog")
	[ -n "$team" ] && printf 'T\t%s\n' "$team"
	if json=$(plutil -convert json -o - "$f" 2>/dev/null); then
		printf 'J\t%s\n' "$(printf '%s' "$json" | tr -d '\n')"
	elif json=$(plist_keys "$f"); then
		printf 'J\t%s\n' "$json"
	else
		printf 'E\tnot a readable property list\n'
	fi
}

scan() {
	[ -d "$1" ] || return 0
	for f in "$1"/*; do
		[ -f "$f" ] && emit "$f"
	done
}

list() {
	if [ "$INCLUDE_SYSTEM" = 1 ]; then
		scan "$ROOT/System/Library/LaunchDaemons"
		scan "$ROOT/System/Library/LaunchAgents"
	fi
	scan "$ROOT/Library/LaunchDaemons"
	scan "$ROOT/Library/LaunchAgents"
	dscl . -list /Users NFSHomeDirectory 2>/dev/null |
		sed -e 's/^[^ ]*  *//' |
		while IFS= read -r home; do
			case $home in /*) scan "$ROOT$home/Library/LaunchAgents" ;; esac
		done
}

list | awk -v gen="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -v max="$MAX_JOBS" '
# filter(s): the top-level members of JSON object s whose keys are kept,
# as an object; "" when s is not an object.
function filter(s,    L, i, c, depth, instr, esc, state, kstart, key, vstart, out) {
	L = length(s); depth = 0; instr = 0; esc = 0; state = 0; out = ""
	for (i = 1; i <= L; i++) {
		c = substr(s, i, 1)
		if (instr) {
			if (esc) esc = 0
			else if (c == "\\") esc = 1
			else if (c == "\"") {
				instr = 0
				if (depth == 1 && state == 0) key = substr(s, kstart, i - kstart)
			}
			continue
		}
		if (c == "\"") {
			instr = 1
			if (depth == 1 && state == 0) kstart = i + 1
			continue
		}
		if (c == "{" || c == "[") {
			if (depth == 0 && c != "{") return ""
			depth++
			continue
		}
		if (c == "}" || c == "]") {
			if (depth == 1) {
				if (state == 1 && (key in keep)) out = out (out == "" ? "" : ",") "\"" key "\":" substr(s, vstart, i - vstart)
				return "{" out "}"
			}
			depth--
			continue
		}
		if (depth == 1 && c == ":" && state == 0) { state = 1; vstart = i + 1; continue }
		if (depth == 1 && c == "," && state == 1) {
			if (key in keep) out = out (out == "" ? "" : ",") "\"" key "\":" substr(s, vstart, i - vstart)
			state = 0
			continue
		}
	}
	return ""
}
function head() {
	if (mtime !~ /^[0-9]+$/) mtime = 0
	printf "%s{\"path\":\"%s\",\"owner\":\"%s\",\"mtime\":%s", (n ? "," : ""), path, owner, mtime
	if (team != "") printf ",\"team_id\":\"%s\"", team
	n++
}
BEGIN {
	FS = "\t"; n = 0; trunc = 0
	split("Label Program ProgramArguments RunAtLoad KeepAlive StartInterval StartCalendarInterval Disabled UserName", ks, " ")
	for (i in ks) keep[ks[i]] = 1
	printf "<result>{\"v\":2,\"generated\":\"%s\",\"jobs\":[", gen
}
$1 == "F" { path = $2; owner = $3; mtime = $4; team = ""; next }
$1 == "T" { if ($2 ~ /^[A-Z0-9]+$/) team = $2; next }
$1 == "J" || $1 == "E" {
	if (n >= max + 0) { trunc = 1; next }
	if ($1 == "J") {
		obj = filter(substr($0, 3))
		if (obj == "") { head(); printf ",\"error\":\"not a launchd dictionary\"}"; next }
		head(); printf ",\"plist\":%s}", obj
	} else {
		head(); printf ",\"error\":\"%s\"}", $2
	}
}
END { printf "],\"truncated\":%s}</result>\n", (trunc ? "true" : "false") }
'
