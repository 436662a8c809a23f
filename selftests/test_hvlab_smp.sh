#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# test_hvlab_smp - hvlab-run's APIC board (--smp N), inside the emulated PC
# (TAP output, kselftest "# Totals:" line; run by /hvlab/suite).
#
#   - usage: --smp 0 and 17 refused, --smp with --no-apic refused
#   - the multiboot test kernel guest/smpkernel.c with --smp 1, 2 and 4 on
#     each accelerator: CPUs and I/O APIC from the MADT, APs started with
#     INIT-SIPI-SIPI, an IPI ring and a broadcast IPI, PIT interrupts
#     through I/O APIC pin 2, a level-triggered UART interrupt sent again
#     at each EOI; its whole output is compared with the expected text for
#     that N, and the two accelerators' outputs with each other (no line
#     is left out of the comparison: the kernel prints nothing that
#     depends on timing or on the hypervisor)
# Accelerators: hvlab (HVLAB_VM_LAPIC: the module's local APICs, the I/O
# APIC in hvlab-run) and KVM (its in-kernel local APIC with
# KVM_CAP_SPLIT_IRQCHIP; loaded here with the rig's load-kvm if missing,
# after the hvlab runs, since hvlab.ko and KVM take turns at VT-x/SVM).
#
# Environment: HVLAB_SMP_MB (sizes on KVM, default "1 2 4"), HVLAB_SMP_HV
# (sizes on hvlab, default the same).
HERE=$(cd "$(dirname "$0")" && pwd)
HR=$HERE/hvlab-run
RUN=$(command -v hvlab-run || echo /hvlab/bin/hvlab-run)
T=${TMPDIR:-/tmp}/test_hvlab_smp.$$
mkdir -p "$T" || exit 1

# TAP: ok/notok/skipped/diag; at exit tap_cleanup, the plan, "# Totals:".
# shellcheck source=lib/tap.sh source-path=SCRIPTDIR
. "$HERE/lib/tap.sh"
up() { read -r u _ </proc/uptime; echo "$u"; }
since() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }'; }

KVM_LOADED_HERE=0
tap_cleanup() {
	[ $KVM_LOADED_HERE = 1 ] && { unload-kvm >/dev/null 2>&1 || echo "# unload-kvm failed"; }
	rm -rf "$T"
}
# a guest that died must fail its case, not kill the script with SIGPIPE
trap "" PIPE

[ -x "$RUN" ] || { notok "hvlab-run present" "not found (build/bin/hvlab-run)"; exit; }
[ -f "$HR/smpkernel" ] || { notok "smpkernel present" "missing $HR/smpkernel"; exit; }

# expect NAME STATUS PATTERN -- hvlab-run ARGS: run, check status and output
expect() {
	name=$1 want=$2 pat=$3
	shift 4
	"$RUN" "$@" </dev/null >"$T/out" 2>&1
	rc=$?
	if [ "$rc" != "$want" ]; then
		notok "$name" "exit status $rc, expected $want"
		diag "$T/out"
	elif [ -n "$pat" ] && ! grep -q -- "$pat" "$T/out"; then
		notok "$name" "output lacks '$pat'"
		diag "$T/out"
	else
		ok "$name"
	fi
}

SMP=$HR/smpkernel
expect "--smp 0: usage error" 2 "1 to 16" -- --kernel "$SMP" --smp 0
expect "--smp 17: usage error" 2 "1 to 16" -- --kernel "$SMP" --smp 17
expect "--smp 2 --no-apic: usage error" 2 "needs the APIC board" -- --kernel "$SMP" --smp 2 --no-apic
# ---- the multiboot SMP kernel: its whole output, fixed for each N
mb_expected() { # N
	echo "smpkernel: hello"
	echo "smpkernel: MADT: $1 CPUs, I/O APIC at 0xfec00000"
	i=1
	while [ $i -lt "$1" ]; do
		echo "smpkernel: cpu $i (APIC ID $i) up"
		i=$((i + 1))
	done
	echo "smpkernel: IPI ring: 3 laps of $1 CPUs, 3 IPIs taken by each"
	echo "smpkernel: broadcast IPI (all but self): taken by the $(($1 - 1)) other CPUs, not by the sender"
	echo "smpkernel: I/O APIC version 0x00000020, 24 pins; ISA IRQ 0 is GSI 2"
	echo "smpkernel: I/O APIC: 10 PIT interrupts on pin 2 (edge)"
	echo "smpkernel: I/O APIC: UART on pin 4 (level): 4 interrupts, 3 of them sent again at EOI"
	echo "smpkernel: all checks passed"
	echo "smpkernel: exit 42"
}
# mb_run ACCEL N: run it, check status and output; leaves $T/mb.ACCEL.N
mb_run() {
	acc=$1 c=$2
	name="smpkernel --smp $c on $acc: APs by INIT-SIPI-SIPI, IPIs, I/O APIC edge and level"
	t0=$(up)
	"$RUN" --accel "$acc" --smp "$c" --kernel "$SMP" --append "exit=42" </dev/null >"$T/mb" 2>"$T/mb.err"
	rc=$?
	tr -d '\r' <"$T/mb" >"$T/mb.$acc.$c"
	mb_expected "$c" >"$T/mb.want"
	if [ $rc != 42 ]; then
		notok "$name" "exit status $rc, expected 42"
		diag "$T/mb.$acc.$c" "$T/mb.err"
	elif ! cmp -s "$T/mb.$acc.$c" "$T/mb.want"; then
		notok "$name" "output differs from the expected"
		diff "$T/mb.want" "$T/mb.$acc.$c" | diag
	else
		ok "$name"
	fi
	echo "# time: smpkernel --smp $c on $acc: $(since "$t0") s (cpu=${HVLAB_CPU:-?} smp=${HVLAB_SMP:-?})"
}

# hvlab runs the same sizes as KVM (about 0.1-0.2 s each on both PCs;
# HVLAB_SMP_HV and HVLAB_SMP_MB choose others, "" none).
MB_CPUS=${HVLAB_SMP_MB-1 2 4}
HV_CPUS=${HVLAB_SMP_HV-$MB_CPUS}
if [ ! -e /dev/hvlab ]; then
	skipped "the APIC board on hvlab" "/dev/hvlab missing (hvlab.ko not loaded)"
elif [ -z "$HV_CPUS" ]; then
	skipped "smpkernel on hvlab" "HVLAB_SMP_HV is empty"
else
	for c in $HV_CPUS; do
		mb_run hvlab "$c"
	done
fi

if [ ! -e /dev/kvm ] && command -v load-kvm >/dev/null; then
	load-kvm >"$T/kvm" 2>&1 && KVM_LOADED_HERE=1
fi
if [ ! -e /dev/kvm ]; then
	skipped "the APIC board on kvm" "/dev/kvm missing ($(tail -n 1 "$T/kvm" 2>/dev/null))"
	exit
fi
for c in $MB_CPUS; do
	mb_run kvm "$c"
done

# The same board on both: the same text, line for line.
for c in $MB_CPUS; do
	name="smpkernel --smp $c: hvlab and kvm print the same"
	if [ ! -f "$T/mb.hvlab.$c" ]; then
		continue	# no hvlab run of this size: its skip is said above
	elif cmp -s "$T/mb.hvlab.$c" "$T/mb.kvm.$c"; then
		ok "$name"
	else
		notok "$name" "outputs differ"
		diff "$T/mb.hvlab.$c" "$T/mb.kvm.$c" | diag
	fi
done
