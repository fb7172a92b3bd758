#!/usr/bin/env bash
# Start a one-node Slurm cluster on this machine, for `python -m main cluster=local ...` and the
# Slurm tests. Debian or Ubuntu, as root:   sudo bash .ci/start_local_slurm.sh
#
# It installs Debian's slurmctld, slurmd and munge if they are missing, writes
# /etc/slurm/slurm.conf (one node: this host, with its own CPUs and memory; one partition, `local`),
# starts munged, slurmctld and slurmd, and returns once the node takes jobs. Running it again
# starts only what is not running. It refuses to touch a slurm.conf it did not write, so it never
# takes over a real cluster's configuration. Stop it with: scontrol shutdown; kill the munged pid
# in /run/munge/munged.pid.
set -euo pipefail

MARK="# written by start_local_slurm.sh (one-node Slurm on localhost)"
CONF=/etc/slurm/slurm.conf
PARTITION=local
LOGS=/var/log/slurm

fail() { echo "start_local_slurm: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || fail "run as root (it starts system daemons)"

# 1. Packages.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
   || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurmctld slurmd munge slurm-client >/dev/null
fi

# 2. Munge: a key, then the daemon (running as user munge), checked by a round trip.
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
  munge -n | unmunge >/dev/null || fail "munged does not answer (see /var/log/munge/munged.log)"
fi

# 3. slurm.conf: this host as the only node, with what slurmd itself measures (CPUs, memory).
host=$(hostname)
read -r -a node < <(slurmd -C | head -n 1)          # NodeName=<host> CPUs=.. ... RealMemory=..
node_line="${node[*]} NodeAddr=127.0.0.1 State=UNKNOWN"
new_conf="$MARK
ClusterName=localcluster
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
# A requeued job may start again after cred_expire seconds (Slurm's default: 120).
AuthInfo=cred_expire=5
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=${LOGS}/slurmctld.log
SlurmdLogFile=${LOGS}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Look for startable jobs every few seconds (a requeued job waits for the next pass).
SchedulerParameters=sched_interval=2,bf_interval=2
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
JobRequeue=1
KillWait=30
${node_line}
PartitionName=${PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP"

if [[ -e $CONF ]] && ! grep -qxF "$MARK" "$CONF"; then
  fail "$CONF exists and was not written by this script; not touching it"
fi
changed=0
if [[ ! -e $CONF ]] || [[ "$(cat "$CONF")" != "$new_conf" ]]; then
  mkdir -p /etc/slurm
  printf '%s\n' "$new_conf" > "$CONF.tmp" && mv "$CONF.tmp" "$CONF"
  changed=1
fi
install -d -o slurm -g slurm -m 0755 /var/lib/slurm /var/lib/slurm/slurmctld \
  /var/lib/slurm/slurmd "$LOGS"

# 4. The daemons: start what is not running; restart both when the config changed (some
#    settings, such as AuthInfo, are only read at start). Running jobs survive a restart.
ctld_up() { scontrol ping 2>/dev/null | grep -q "UP"; }
slurmd_up() { [[ -s /run/slurmd.pid ]] && kill -0 "$(cat /run/slurmd.pid)" 2>/dev/null; }
if [[ $changed == 1 ]] && ctld_up; then
  scontrol shutdown
  for _ in $(seq 40); do ctld_up || slurmd_up || break; sleep 0.5; done
fi
if ! ctld_up; then
  slurmctld
  for _ in $(seq 40); do ctld_up && break; sleep 0.5; done
  ctld_up || { tail -n 20 "$LOGS/slurmctld.log" >&2; fail "slurmctld did not start"; }
fi
slurmd_up || slurmd

# 5. Wait until the node takes jobs (idle, or busy with jobs when this runs a second time).
for _ in $(seq 60); do
  state=$(sinfo -h -N -n "$host" -o %t 2>/dev/null | head -n 1)
  case $state in
    idle|mix|alloc|comp) echo "slurm: node $host is $state in partition $PARTITION"; exit 0 ;;
    down*|drain*|drng*) scontrol update NodeName="$host" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 1
done
tail -n 20 "$LOGS/slurmd.log" "$LOGS/slurmctld.log" >&2 || true
sinfo -N -l >&2 || true
fail "node $host did not become idle within 60 s"
