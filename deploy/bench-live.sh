#!/bin/sh
# bench-live.sh — live-capture throughput through a veth pair.
#
#   deploy/bench-live.sh [-t SECONDS] [-r "PPS PPS ... top max"] [-w WORKERS] [-m MB] PCAP BINARY...
#   deploy/bench-live.sh -f MULTIPLIER PCAP LIVECAP      # fraction that reaches user space
#
# Creates a network namespace and a veth pair, replays PCAP into the namespace end
# with tcpreplay at increasing rates (--pps=N, then --topspeed; "max" sends with
# netsniff-ng's TX ring, much faster, when installed), and captures on the
# host end with each BINARY, with and without the eBPF pre-filter, and with
# `tcpdump -i` for reference. BINARY is either livecap (go build
# ./internal/cmd/livecap: the capture layer plus decoding) or launchtap
# (`launchtap run`, whose --summary FILE has a "kernel" object with "packets" and
# "drops"). For each run it prints the rate tcpreplay achieved, the
# packets the kernel took, the kernel drops and the CPU the capturer used, then the
# highest drop-free rate per capturer. Filter "on" is the socket filter, "xdp" the
# XDP pre-filter (--xdp), "off" no filter (--no-bpf). Needs root, iproute2 and tcpreplay.
#
# -f replays PCAP at MULTIPLIER times its own speed through livecap with the filter
# on, its sample interval and UDP idle gap divided by MULTIPLIER so that it makes
# the decisions it would make in real time, and prints the fraction of packets and
# bytes that reached user space.
set -eu

secs=4 rates="20000 50000 100000 200000 top max" workers=2 ringmb=64 mult=""
while getopts t:r:w:m:f: o; do
	case $o in
	t) secs=$OPTARG ;; r) rates=$OPTARG ;; w) workers=$OPTARG ;; m) ringmb=$OPTARG ;; f) mult=$OPTARG ;;
	*) sed -n '2,22s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || { sed -n '2,22s/^# \{0,1\}//p' "$0" >&2; exit 2; }
pcap=$1
shift
[ "$(id -u)" = 0 ] || { echo "bench-live: needs root" >&2; exit 2; }
for t in ip tcpreplay awk; do command -v $t >/dev/null || { echo "bench-live: $t missing" >&2; exit 2; }; done

id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
ns=ltbench-$id host=ltbh$id peer=ltbp$id
work=$(mktemp -d)
cleanup() {
	ip link del "$host" 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip link add "$host" type veth peer name "$peer" netns "$ns"
sysctl -q -w "net.ipv6.conf.$host.disable_ipv6=1"
ip netns exec "$ns" sysctl -q -w "net.ipv6.conf.$peer.disable_ipv6=1"
ip link set "$host" up
ip -n "$ns" link set "$peer" up

npkts=$(tcpdump -r "$pcap" -n 2>/dev/null | wc -l)
cat "$pcap" >/dev/null

# cpu_ticks PID: user+system clock ticks so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)

# start_capture KIND BIN FILTER -> sets cap_pid, cap_out
start_capture() {
	cap_out=$work/out.$$
	: >"$cap_out"
	case $1 in
	livecap)
		f=""; [ "$3" = off ] && f=--no-bpf; [ "$3" = xdp ] && f=--xdp
		"$2" -i "$host" --workers "$workers" --ring-mb "$ringmb" $f $extra --stats "$cap_out" 2>"$work/err" >/dev/null &
		;;
	launchtap)
		f=""; [ "$3" = off ] && f=--no-bpf; [ "$3" = xdp ] && f=--xdp
		"$2" run -i "$host" --workers "$workers" --ring-mb "$ringmb" $f --alerts /dev/null --summary "$cap_out" 2>"$work/err" >/dev/null &
		;;
	tcpdump)
		tcpdump -i "$host" -n -s 0 -B $((ringmb * 1024)) -w /dev/null 2>"$cap_out" &
		;;
	esac
	cap_pid=$!
	sleep 1.5
	kill -0 "$cap_pid" 2>/dev/null || { echo "bench-live: capturer exited:" >&2; cat "$work/err" "$cap_out" >&2; exit 1; }
}

# stop_capture KIND -> sets drops, kpkts
stop_capture() {
	kill -INT "$cap_pid"
	wait "$cap_pid" || true
	case $1 in
	tcpdump)
		kpkts=$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$cap_out")
		drops=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$cap_out") ;;
	livecap)
		kpkts=$(sed -n 's/^ *"kernel_packets": \([0-9]*\).*/\1/p' "$cap_out")
		drops=$(sed -n 's/^ *"kernel_drops": \([0-9]*\).*/\1/p' "$cap_out") ;;
	launchtap) # the summary's "kernel" object: {"packets": N, "drops": N, ...}
		kpkts=$(awk '/"kernel": *\{/ {k=1} k && /"packets":/ {gsub(/[^0-9]/, "", $2); print $2; exit}' FS=: "$cap_out")
		drops=$(awk '/"kernel": *\{/ {k=1} k && /"drops":/ {gsub(/[^0-9]/, "", $2); print $2; exit}' FS=: "$cap_out") ;;
	esac
	kpkts=${kpkts:-?} drops=${drops:-?}
}

# replay RATE -> sets sent, achieved, wall
replay() {
	if [ "$1" = max ]; then
		# netsniff-ng transmits from a PACKET_TX_RING: several times tcpreplay's
		# per-packet sendto rate. It has no loop option: run it back to back.
		loops=$(( (secs * 250000 + npkts - 1) / npkts ))
		[ "$loops" -ge 1 ] || loops=1
		r0=$(date +%s.%N)
		i=0
		while [ $i -lt "$loops" ]; do
			ip netns exec "$ns" netsniff-ng --in "$pcap" --mmap --out "$peer" -s -S 16MiB -k 100 >/dev/null 2>&1 || true
			i=$((i + 1))
		done
		r1=$(date +%s.%N)
		sent=$((loops * npkts))
		wall=$(awk -v a="$r0" -v b="$r1" 'BEGIN{printf "%.3f", b-a}')
		achieved=$(awk -v n="$sent" -v w="$wall" 'BEGIN{printf "%.2f", n/w}')
		return
	fi
	if [ "$1" = top ]; then
		loops=$(( (secs * 400000 + npkts - 1) / npkts ))
		speed=--topspeed
	else
		loops=$(( ($1 * secs + npkts - 1) / npkts ))
		speed=--pps=$1
	fi
	[ "$loops" -ge 1 ] || loops=1
	ip netns exec "$ns" tcpreplay -q -K -i "$peer" $speed --loop="$loops" "$pcap" >"$work/replay" 2>&1 || true
	sent=$(sed -n 's/^Actual: \([0-9]*\) packets.*/\1/p' "$work/replay")
	achieved=$(sed -n 's/^Rated: .*, \([0-9.]*\) pps.*/\1/p' "$work/replay")
	wall=$(sed -n 's/^Actual: .* in \([0-9.]*\) seconds.*/\1/p' "$work/replay")
}

if [ -n "$mult" ]; then
	extra=$(awk -v m="$mult" 'BEGIN{printf "--bpf-sample=%dus --udp-idle=%dus --burst-gap=%dus", 1e6/m, 60e6/m, 8e6/m}')
	start_capture livecap "$1" on
	ip netns exec "$ns" tcpreplay -q -K -i "$peer" --multiplier="$mult" "$pcap" >"$work/replay" 2>&1
	sleep 0.5
	stop_capture livecap
	awk -v m="$mult" -F'[:,]' '
		/"kernel_packets"/ {k=$2} /"kernel_drops"/ {d=$2}
		/"filter_passed"/ {p=$2} /"filter_counted"/ {c=$2}
		/"filter_passed_bytes"/ {pb=$2} /"filter_counted_bytes"/ {cb=$2}
		END {
			printf "replayed at x%s: %d packets, kernel drops %d\n", m, p+c, d
			printf "reached user space: %d of %d packets (%.1f%%)", p, p+c, 100*p/(p+c)
			if (pb+cb > 0) printf ", TCP/UDP bytes %.1f%%", 100*pb/(pb+cb)
			printf "\n"
		}' "$cap_out"
	echo "(sample interval 1 s, burst gap 8 s and UDP idle gap 60 s of capture time, scaled by 1/$mult)"
	exit 0
fi

extra=""
printf '%s\n' "capture of $npkts packets ($(du -h "$pcap" | cut -f1)), $(nproc) CPUs, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $workers workers, ${ringmb} MiB ring"
printf '%-12s %-6s %10s %12s %12s %10s %8s\n' capturer filter target achieved_pps sent drops cpu%
best=$work/best
: >"$best"
run_one() { # KIND BIN FILTER RATE
	r=$4
	start_capture "$1" "$2" "$3"
	c0=$(cpu_ticks "$cap_pid")
	replay "$r"
	c1=$(cpu_ticks "$cap_pid")
	stop_capture "$1"
	cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v w="${wall:-0}" 'BEGIN{ if (w > 0) printf "%.0f", 100*(b-a)/hz/w; else print "?" }')
	printf '%-12s %-6s %10s %12s %12s %10s %8s\n' "$(basename "$2")" "$3" "$r" "${achieved:-?}" "${sent:-?}" "$drops" "$cpu"
	if [ "$1" = launchtap ]; then # the summary's accounting: seen = delivered + counted + drops + undelivered
		awk -F: '/"kernel": *\{/ {k=1} k && /^ *"[a-z_]+": *[0-9]+/ {n=$1; gsub(/[ "]/, "", n); v=$2; gsub(/[^0-9]/, "", v); m[n]=v}
			k && /\}/ {k=0}
			END {printf "    seen %s = delivered %s + counted %s + drops %s + undelivered %s (unaccounted %s); passed %s, of which no entry %s, map-full %s\n",
				m["seen"], m["delivered"], m["filter_counted"]+0, m["drops"], m["undelivered"], m["unaccounted"], m["filter_passed"]+0, m["filter_no_entry"]+0, m["filter_map_full"]+0}' "$cap_out"
	fi
	if [ "$drops" = 0 ]; then echo "$(basename "$2") $3 ${achieved:-0} $cpu" >>"$best"; fi
}
# Rates in the outer loop: the capturers run back to back at each rate and so see
# the same background load, which on a shared machine drifts over minutes.
for r in $rates; do
	if [ "$r" = max ] && ! command -v netsniff-ng >/dev/null; then continue; fi
	for b in "$@"; do
		case $(basename "$b") in
		livecap*) kind=livecap ;;
		*) kind=launchtap ;;
		esac
		run_one $kind "$b" on "$r"
		run_one $kind "$b" xdp "$r"
		run_one $kind "$b" off "$r"
	done
	if command -v tcpdump >/dev/null; then run_one tcpdump tcpdump - "$r"; fi
done
echo
echo "highest drop-free rate (packets/s achieved by tcpreplay, capturer CPU %):"
sort -k1,2 -k3,3gr "$best" | awk '!seen[$1" "$2]++ {printf "  %-12s filter %-4s %10.0f pps  cpu %s%%\n", $1, $2, $3, $4}'
