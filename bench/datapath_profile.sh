#!/bin/bash
# Where the CPU goes between two namespaces, per configuration of datapath_bench (none,
# conntrack-only, policy-1, policy-10k), from perf samples (cpu-clock: works in VMs without
# hardware counters) summed into netfilter's conntrack and hooks, nftables rule evaluation, and
# everything else:
# - short connections: samples of the benchmark's client and server threads (setup left out),
#   which on veth also run the receive softirq, in microseconds per connection;
# - iperf3: samples of both iperf3 processes, in milliseconds of CPU per GB transferred.
# Rounds alternate the configurations. The machine's load inflates every class alike, so compare
# the classes within a row and the netfilter share more than the totals.
#
# Usage: bench/datapath_profile.sh BUILD_DIR [ROUNDS [CONNECTIONS]]   (root; needs perf)
set -euo pipefail

build=${1:?usage: datapath_profile.sh BUILD_DIR [ROUNDS [CONNECTIONS]]}
rounds=${2:-2}
count=${3:-40000}
bench="$build/bench/datapath_bench"
freq=4000
command -v perf >/dev/null || { echo "datapath_profile: perf is not installed" >&2; exit 2; }
[ -x "$bench" ] || { echo "datapath_profile: $bench not built" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# classify COMMS LABEL UNITS_PER_SAMPLE UNIT: sums the `perf report` lines (samples, comm,
# symbol) on stdin of the tasks named in COMMS (a regex) by class. perf report's own --comm filter
# is not used: with entries sorted by symbol alone it keeps whole entries by their first task.
classify() {
  awk -v comms="^($1)\$" -v label="$2" -v per="$3" -v unit="$4" '
    /^ *[0-9]+ / && $2 ~ comms {
      s = $1
      if ($0 ~ /[[:space:]]nft_/) nft += s
      else if ($0 ~ /conntrack|nf_ct_|nf_confirm|nf_hook_slow|siphash|defrag/) ct += s
      else other += s
    }
    END {
      total = nft + ct + other
      share = total > 0 ? 100 * (ct + nft) / total : 0
      fmt = "%-34s %7.2f %s: conntrack+hooks %6.2f, nft rules %5.2f, other %7.2f"
      printf fmt " (netfilter %.1f%%)\n", label, total * per, unit, ct * per, nft * per,
             other * per, share
    }'
}

for ((r = 1; r <= rounds; r++)); do
  for config in none conntrack-only policy-1 policy-10k; do
    perf record -q -e cpu-clock -F "$freq" -o "$work/perf.data" -- "$bench" --only "$config" "$count" \
      >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    bytes=$(awk '/iperf3/ { for (i = 1; i <= NF; i++) if ($i == "bytes") print $(i - 1) }' "$work/out")
    perf report -i "$work/perf.data" --no-children --sort comm,sym --stdio -F sample,comm,sym \
      >"$work/report" 2>/dev/null
    classify "bdp-client|bdp-server" "round $r $config connections" \
      "$(awk -v f=$freq -v n="$count" 'BEGIN { print 1e6 / f / n }')" "us/conn" <"$work/report"
    classify "iperf3" "round $r $config iperf3" \
      "$(awk -v f=$freq -v b="${bytes:-0}" 'BEGIN { print (b > 0 ? 1e3 / f / (b / 1e9) : 0) }')" \
      "ms/GB" <"$work/report"
  done
done
