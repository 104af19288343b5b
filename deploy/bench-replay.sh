#!/bin/sh
# bench-replay.sh LAUNCHTAP CAPTURE — end-to-end replay throughput on one core,
# beside tcpdump reading the same file, both from the page cache; then, with
# two cores, two workers' wall-clock rate against one worker's.
set -eu
bin=$1 pcap=$2
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
cat "$pcap" >/dev/null # warm the page cache

# One worker: the reader decodes and tracks inline, so the run uses one core.
rss=""
if [ -x /usr/bin/time ]; then
	/usr/bin/time -o "$summary.rss" -f '%M' "$bin" replay --workers 1 --alerts /dev/null --summary "$summary" --log-level warn "$pcap" 2>/dev/null
	rss=$(tail -n 1 "$summary.rss")
	rm -f "$summary.rss"
else
	"$bin" replay --workers 1 --alerts /dev/null --summary "$summary" --log-level warn "$pcap" 2>/dev/null
fi
pkts=$(sed -n 's/^ *"packets": \([0-9]*\),*$/\1/p' "$summary")
evict=$(tr -d ' \n' <"$summary" | sed -n 's/.*"evictions_by_class":{\([^}]*\)}.*/\1/p' | tr -d '"')
pps=$(sed -n 's/^ *"packets_per_s": \([0-9.e+]*\),*$/\1/p' "$summary")
cpups=$(sed -n 's/^ *"packets_per_cpu_s": \([0-9.e+]*\),*$/\1/p' "$summary")
pairs=$(sed -n 's/^ *"pairs_tracked": \([0-9]*\),*$/\1/p' "$summary")

ref="n/a (tcpdump not installed)"
if command -v tcpdump >/dev/null 2>&1; then
	# CPU time, not wall time, so a busy machine does not skew the ratio.
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -o "$summary" -f '%U %S' tcpdump -r "$pcap" -w /dev/null 2>/dev/null
		ref=$(awk -v n="$pkts" '{printf "%.0f", n/($1+$2)}' "$summary")
	else
		ref="n/a (/usr/bin/time not installed: apt-get install time)"
	fi
fi
awk -v n="$pkts" -v p="$pps" -v c="$cpups" -v r="$ref" -v pairs="$pairs" 'BEGIN{
	printf "replay: %d packets; %.0f packets per CPU-second (per core); %.0f packets/s wall clock (launchtap replay --workers 1)\n", n, c, p
	if (r ~ /^[0-9]+$/) printf "reference: tcpdump -r FILE -w /dev/null: %d packets per CPU-second; launchtap/tcpdump = %.2f\n", r, c/r
	else printf "reference: %s\n", r
	printf "pairs tracked at the end: %d\n", pairs
}'
[ -z "$evict" ] || echo "evictions by class: $evict"
[ -z "$rss" ] || echo "peak RSS: $((rss / 1024)) MiB"

# Two workers against one, wall clock, when two cores are there: three
# alternating pairs, medians (single runs on a shared VM spread by 20 %).
if [ "$(nproc 2>/dev/null || echo 1)" -ge 2 ]; then
	one="" two=""
	for i in 1 2 3; do
		for w in 1 2; do
			"$bin" replay --workers $w --alerts /dev/null --summary "$summary" --log-level warn "$pcap" 2>/dev/null
			r=$(sed -n 's/^ *"packets_per_s": \([0-9.e+]*\),*$/\1/p' "$summary")
			if [ $w = 1 ]; then one="$one $r"; else two="$two $r"; fi
		done
	done
	med() { printf '%s\n' $1 | sort -g | sed -n 2p; }
	awk -v a="$(med "$one")" -v b="$(med "$two")" 'BEGIN{
		printf "two workers: %.0f packets/s wall clock against one worker'"'"'s %.0f: %.2fx (medians of 3 alternating pairs)\n", b, a, b/a
	}'
fi
