#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# test_bench_apic - hvlab-bench's local APIC rows run on both accelerators,
# inside the emulated PC (TAP output, kselftest "# Totals:" line).
#
#   - eoi, timer, ipi and hlt-wake (two vCPUs, x2APIC, the same guest on
#     both) each finish on hvlab (HVLAB_VM_LAPIC) and on KVM (its in-kernel
#     local APIC, KVM_CAP_SPLIT_IRQCHIP), within a guard time, with no
#     error from hvlab-bench;
#   - every row gives a non-zero count of guest TSC ticks per operation;
#   - on each accelerator an IPI round trip costs more ticks than one EOI
#     write: the round trip holds two EOI writes and two ICR writes.
# Not a timing bound: the counts are what the README's table reports.
# Both vendors.  KVM is loaded here with the rig's load-kvm if missing,
# after the hvlab run (hvlab.ko and KVM take turns at VT-x/SVM; 6.12's KVM
# holds it from load).
#
# Environment: HVLAB_BENCH_APIC_N (iterations per row; default 200, 30 on
# the Intel PC, where Bochs runs about 15 times slower).
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH=$(command -v hvlab-bench || echo /hvlab/bin/hvlab-bench)
T=${TMPDIR:-/tmp}/test_bench_apic.$$
ROWS="eoi timer ipi hlt-wake"
mkdir -p "$T" || exit 1
[ -f /hvlab/env ] && . /hvlab/env
if [ "${HVLAB_CPU:-}" = intel ]; then N=${HVLAB_BENCH_APIC_N:-30}; else N=${HVLAB_BENCH_APIC_N:-200}; fi

# TAP: ok/notok/skipped/diag; at exit tap_cleanup, the plan, "# Totals:".
# shellcheck source=lib/tap.sh source-path=SCRIPTDIR
. "$HERE/lib/tap.sh"

KVM_LOADED_HERE=0
tap_cleanup() {
	[ $KVM_LOADED_HERE = 1 ] && { unload-kvm >/dev/null 2>&1 || echo "# unload-kvm failed"; }
	rm -rf "$T"
}

[ -x "$BENCH" ] || { notok "hvlab-bench present" "not found"; exit; }

# bench ACCEL: the four rows on ACCEL; checks each, leaves $T/ACCEL.ROW = ticks per op
bench() {
	acc=$1
	# A lost interrupt hangs the guest in HLT: the guard turns that into a failure.
	timeout 300 "$BENCH" -a "$acc" -n "$N" $ROWS >"$T/out" 2>"$T/err"
	rc=$?
	diag "$T/out"
	if [ $rc != 0 ] || [ -s "$T/err" ]; then
		notok "hvlab-bench $ROWS on $acc" "exit status $rc$([ $rc = 143 ] && echo ' (timed out)')"
		diag "$T/err"
		return
	fi
	ok "hvlab-bench $ROWS on $acc"
	col=4
	[ "$acc" = kvm ] && col=5
	for row in $ROWS; do
		v=$(awk -v r="$row" -v c=$col '$1 == r { print $c }' "$T/out")
		if [ -n "$v" ] && [ "$v" -gt 0 ] 2>/dev/null; then
			ok "$row on $acc: $v ticks per operation"
			echo "$v" >"$T/$acc.$row"
		else
			notok "$row on $acc: a non-zero count" "got '$v'"
		fi
	done
	if [ -f "$T/$acc.ipi" ] && [ -f "$T/$acc.eoi" ]; then
		i=$(cat "$T/$acc.ipi") e=$(cat "$T/$acc.eoi")
		if [ "$i" -gt "$e" ]; then
			ok "ipi round trip on $acc ($i) above one EOI write ($e)"
		else
			notok "ipi round trip on $acc above one EOI write" "ipi $i, eoi $e"
		fi
	fi
}

if [ -e /dev/hvlab ]; then
	bench hvlab
else
	skipped "hvlab-bench APIC rows on hvlab" "/dev/hvlab missing (hvlab.ko not loaded)"
fi

if [ ! -e /dev/kvm ] && command -v load-kvm >/dev/null; then
	load-kvm >"$T/kvm" 2>&1 && KVM_LOADED_HERE=1
fi
if [ ! -e /dev/kvm ]; then
	skipped "hvlab-bench APIC rows on kvm" "/dev/kvm missing ($(tail -n 1 "$T/kvm" 2>/dev/null))"
	exit
fi
bench kvm
