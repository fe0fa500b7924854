#!/usr/bin/env bash
# bench-fanout: one command on 30 lab hosts through the bastion, side by side:
#   (a) scalar-tui exec (one bastion connection, hosts multiplexed over it),
#   (b) OpenSSH, one `ssh -F ssh_config HOST` per host, all at once (ProxyJump each),
#   (c) ansible ad hoc `-m raw` with -f 30 through the same ssh_config, when installed.
# Each is run RUNS times (default 3), cold (new processes, no connection reuse);
# the median wall time is printed with its ratio to scalar-tui.
# Needs root (the lab makes network namespaces), iproute2, openssh-server/client.
# Usage: bash .ci/bench-fanout.sh      (env: HOSTS=30 RUNS=3 BIN=bin/scalar-tui)
set -euo pipefail
cd "$(dirname "$0")/.."

HOSTS=${HOSTS:-30}
RUNS=${RUNS:-3}
BIN=${BIN:-bin/scalar-tui}
# A prefix per run: `lab up` replaces a lab with the same prefix (another run's).
PREFIX=${PREFIX:-b$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')}
DOMAIN=internal.scalar-labs.com

# calc EXPR evaluates a floating-point expression.
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

if [ "$(id -u)" != 0 ]; then
  echo "bench-fanout: must run as root (the lab creates network namespaces)" >&2
  exit 2
fi
if [ ! -x "$BIN" ]; then
  echo "bench-fanout: building $BIN and scalar-sim beside it (it runs the lab)"
  go build -o "$BIN" ./cmd/scalar-tui
  go build -o "$(dirname "$BIN")/scalar-sim" ./cmd/scalar-sim
fi
BIN=$(realpath "$BIN")

D=$(mktemp -d /tmp/stl-bench.XXXXXX)
export XDG_STATE_HOME="$D/state" XDG_CONFIG_HOME="$D/config"
unset SSH_AUTH_SOCK   # every client authenticates with the lab's key file
cleanup() {
  "$BIN" lab down --dir "$D/lab" >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap cleanup EXIT

# Only sshd is measured: leave the hosts' simulated services (lab up --nodes) off,
# so 30 exporters do not compete for the CPU.
lab_flags=()
if "$BIN" lab up --help 2>/dev/null | grep -q -- '--nodes'; then lab_flags+=(--nodes=false); fi
echo "bench-fanout: starting a lab of $HOSTS hosts in $D/lab"
t0=$(date +%s.%N)
"$BIN" lab up --hosts "$HOSTS" --dir "$D/lab" --prefix "$PREFIX" "${lab_flags[@]}" >"$D/lab-up.log" 2>&1 || { cat "$D/lab-up.log" >&2; exit 1; }
t1=$(date +%s.%N)
L="$D/lab"
printf 'bench-fanout: lab up in %.2fs\n' "$(calc "$t1 - $t0")"

hosts=()
for i in $(seq 1 "$HOSTS"); do hosts+=("cassandra-$i.$DOMAIN"); done

# now prints seconds since the epoch with nanoseconds.
now() { date +%s.%N; }

# median of the arguments (an odd or even count).
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

run_scalar() {
  "$BIN" --log-file "$D/scalar-tui.log" --tf-root "$L/tf" --known-hosts "$L/known_hosts" --identity "$L/id_ed25519" \
    exec --role cassandra --parallel "$HOSTS" -- true >"$D/out" 2>&1
}

run_openssh() {
  local pids=() rc=0
  for h in "${hosts[@]}"; do
    ssh -F "$L/ssh_config" "$h" true >>"$D/out" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}

INV="$D/ansible-hosts"
{
  echo "[lab]"
  printf '%s\n' "${hosts[@]}"
  echo "[lab:vars]"
  echo "ansible_user=root"
  echo "ansible_ssh_common_args='-F $L/ssh_config'"
} >"$INV"
# An empty config: the machine's /etc/ansible/ansible.cfg and ~/.ansible.cfg must not apply.
: >"$D/ansible.cfg"
run_ansible() {
  # No ControlPersist: every run is cold, like the other two.
  ANSIBLE_SSH_ARGS="-o ControlMaster=no" ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_LOCAL_TEMP="$D/ansible-tmp" \
    ANSIBLE_CONFIG="$D/ansible.cfg" HOME="$D" ansible all -i "$INV" -m raw -a true -f "$HOSTS" >"$D/out" 2>&1
}

# measure NAME FUNC: RUNS timed runs; prints the median, fails on any error.
measure() {
  local name=$1 fn=$2 times=() s e
  for r in $(seq 1 "$RUNS"); do
    : >"$D/out"
    s=$(now)
    if ! "$fn"; then
      echo "bench-fanout: $name run $r failed:" >&2
      tail -n 20 "$D/out" >&2
      return 1
    fi
    e=$(now)
    times+=("$(calc "$e - $s")")
  done
  printf '  %-12s runs: %s\n' "$name" "$(printf '%.3fs ' "${times[@]}")" >&3
  median "${times[@]}"
}

exec 3>&1   # measure reports each run here while its stdout is captured
echo "bench-fanout: 'true' on $HOSTS hosts through the bastion, $RUNS runs each (median)"
scalar=$(measure scalar-tui run_scalar)
openssh=$(measure openssh run_openssh)
if command -v ansible >/dev/null 2>&1; then
  ansible=$(measure ansible run_ansible)
else
  ansible=""
fi

echo
# A loaded machine slows every client; say so next to the figures.
echo "load average (1 5 15 min): $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
printf '%-34s %9s %8s\n' "client ($HOSTS hosts, median of $RUNS)" "wall" "ratio"
printf '%-34s %8.3fs %7.2fx\n' "scalar-tui exec --parallel $HOSTS" "$scalar" 1
printf '%-34s %8.3fs %7.2fx\n' "openssh ($HOSTS x ssh -F, ProxyJump)" "$openssh" "$(calc "$openssh / $scalar")"
if [ -n "$ansible" ]; then
  printf '%-34s %8.3fs %7.2fx\n' "ansible -m raw -f $HOSTS" "$ansible" "$(calc "$ansible / $scalar")"
else
  echo "ansible: not installed, skipped"
fi
