#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# test_hvlab_smp - hvlab-run's APIC board (--smp N), inside the emulated PC
# (TAP output, kselftest "# Totals:" line; run by /hvlab/suite).
#
#   - usage: --smp 0 and 17 refused, --smp with --no-apic refused; on
#     --accel hvlab the board is refused with a message naming the missing
#     in-kernel local APIC (until hvlab.ko has one: then this case flips)
#   - the multiboot test kernel guest/smpkernel.c with --smp 1, 2 and 4:
#     CPUs and I/O APIC from the MADT, APs started with INIT-SIPI-SIPI, an
#     IPI ring and a broadcast IPI, PIT interrupts through I/O APIC pin 2,
#     a level-triggered UART interrupt sent again at each EOI; its whole
#     output is compared with the expected text for that N
#   - Debian's stock 6.1 vmlinuz with a busybox initramfs and its default
#     command line, --smp 1, 2 and 4: nproc prints N; /proc/interrupts
#     shows local timer interrupts (LOC) on every CPU, and rescheduling
#     (RES) and function-call (CAL) IPIs on every CPU when N > 1; a job
#     pinned to each CPU with taskset finishes; poweroff -f ends hvlab-run
#     with status 0 through ACPI S5
# Accelerators: KVM only for now (KVM's in-kernel local APIC with
# KVM_CAP_SPLIT_IRQCHIP; loaded here with the rig's load-kvm if missing).
#
# Environment: HVLAB_SMP_LINUX (the N for the Linux boots; empty skips
# them; default "1 2 4" on AMD, "2" on the Intel PC, where Bochs makes each
# boot cost minutes of wall time), HVLAB_SMP_MB (default "1 2 4").
HERE=$(cd "$(dirname "$0")" && pwd)
HR=$HERE/hvlab-run
RUN=$(command -v hvlab-run || echo /hvlab/bin/hvlab-run)
T=${TMPDIR:-/tmp}/test_hvlab_smp.$$
mkdir -p "$T" || exit 1

n=0 pass=0 fail=0 skip=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1 # $2"; }
skipped() { n=$((n + 1)); skip=$((skip + 1)); echo "ok $n $1 # SKIP $2"; }
diag() { sed 's/^/# /' "$@"; }
up() { read -r u _ </proc/uptime; echo "$u"; }
since() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }'; }

KVM_LOADED_HERE=0
finish() {
	[ $KVM_LOADED_HERE = 1 ] && { unload-kvm >/dev/null 2>&1 || echo "# unload-kvm failed"; }
	rm -rf "$T"
	echo "1..$n"
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
	[ $fail = 0 ] || exit 1
	[ $pass = 0 ] && exit 4
	exit 0
}
trap finish EXIT
# a guest that died must fail its case, not kill the script with SIGPIPE
trap "" PIPE

echo "TAP version 13"
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
if [ -e /dev/hvlab ]; then
	expect "--smp 2 on hvlab: refused, no in-kernel local APIC (exit 70)" 70 "no in-kernel local APIC" -- --accel hvlab --kernel "$SMP" --smp 2
else
	skipped "--smp 2 on hvlab: refused" "/dev/hvlab missing (hvlab.ko not loaded)"
fi

if [ ! -e /dev/kvm ] && command -v load-kvm >/dev/null; then
	load-kvm >"$T/kvm" 2>&1 && KVM_LOADED_HERE=1
fi
if [ ! -e /dev/kvm ]; then
	skipped "the APIC board on kvm" "/dev/kvm missing ($(tail -n 1 "$T/kvm" 2>/dev/null))"
	exit
fi

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
for c in ${HVLAB_SMP_MB-1 2 4}; do
	name="smpkernel --smp $c on kvm: APs by INIT-SIPI-SIPI, IPIs, I/O APIC edge and level"
	t0=$(up)
	"$RUN" --accel kvm --smp "$c" --kernel "$SMP" --append "exit=42" </dev/null >"$T/mb" 2>"$T/mb.err"
	rc=$?
	tr -d '\r' <"$T/mb" >"$T/mb.txt"
	mb_expected "$c" >"$T/mb.want"
	if [ $rc != 42 ]; then
		notok "$name" "exit status $rc, expected 42"
		diag "$T/mb.txt" "$T/mb.err"
	elif ! cmp -s "$T/mb.txt" "$T/mb.want"; then
		notok "$name" "output differs from the expected"
		diff "$T/mb.want" "$T/mb.txt" | diag
	else
		ok "$name"
	fi
	echo "# time: smpkernel --smp $c: $(since "$t0") s (cpu=${HVLAB_CPU:-?} smp=${HVLAB_SMP:-?})"
done

# ---- Debian's kernel on the APIC board
VMLINUZ=$HR/vmlinuz
GUEST_TSC=$(tr ' ' '\n' </proc/cmdline | grep '^tsc_early_khz=' | tail -n 1)
GUEST_TSC=${GUEST_TSC:+ $GUEST_TSC}

# The commands typed at the guest's shell; their output is checked below.
# Each CPU: a job pinned to it (taskset), which reports where it ran.
guest_script() { # N
	cat <<'EOS'
echo "nproc: $(nproc)"
i=0; while [ $i -lt $(nproc) ]; do taskset -c $i sh -c 'echo "job on cpu $(awk "{print \$39}" /proc/self/stat) done"' & i=$((i + 1)); done; wait
grep -E '^ *(LOC|RES|CAL):' /proc/interrupts | sed 's/^ */irq: /'
echo "hvlab-guest: script $(echo done)"
EOS
}

# linux_case N: boot, run the script, check, power off
linux_case() {
	c=$1 name="Debian vmlinuz --smp $1 on kvm: nproc, timer and IPIs per CPU, a job per CPU, ACPI poweroff"
	d=$T/linux-$c
	if ! mkdir -p "$d" || ! mkfifo "$d/in"; then
		notok "$name" "cannot make the fifo $d/in"
		return
	fi
	t0=$(up)
	"$RUN" -v --accel kvm --smp "$c" --mem 160M --kernel "$VMLINUZ" --initrd "$HR/initramfs.cpio" \
		--append "console=ttyS0 quiet panic=-1 cryptomgr.notests$GUEST_TSC" --mark "hvlab-guest: init reached" \
		<"$d/in" >"$d/out" 2>"$d/err" &
	pid=$!
	exec 3>"$d/in"
	waitfor() { # pattern seconds
		i=0
		while ! grep -q -- "$1" "$d/out"; do
			kill -0 $pid 2>/dev/null || return 1
			[ $i -ge $(($2 * 5)) ] && return 1
			sleep 0.2
			i=$((i + 1))
		done
	}
	why=""
	if ! waitfor "hvlab-guest: ready" 300; then
		why="no 'hvlab-guest: ready' from the guest's /init"
	else
		guest_script "$c" >&3
		waitfor "hvlab-guest: script done" 120 || why="the commands' output never came back"
		echo 'poweroff -f' >&3
	fi
	i=0
	while kill -0 $pid 2>/dev/null && [ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done
	kill -0 $pid 2>/dev/null && { kill $pid; why="${why:-hvlab-run still running after poweroff -f}"; }
	wait $pid
	rc=$?
	exec 3>&-
	tr -d '\r' <"$d/out" >"$d/o"
	if [ -z "$why" ]; then
		grep -qx "nproc: $c" "$d/o" || why="nproc did not print $c"
	fi
	if [ -z "$why" ]; then
		j=0
		while [ $j -lt "$c" ]; do
			grep -qx "job on cpu $j done" "$d/o" || { why="no job finished on cpu $j"; break; }
			j=$((j + 1))
		done
	fi
	if [ -z "$why" ]; then
		# per CPU: every count of LOC non-zero; RES and CAL too with more than one CPU
		for irq in LOC RES CAL; do
			[ "$irq" != LOC ] && [ "$c" = 1 ] && continue
			line=$(grep "^irq: $irq:" "$d/o" | head -n 1)
			zero=$(echo "$line" | awk -v n="$c" '{ z = 0; for (i = 3; i < 3 + n; i++) if ($i + 0 == 0) z++; print ($i == "" ? -1 : z) }')
			cnt=$(echo "$line" | awk -v n="$c" '{ k = 0; for (i = 3; i < 3 + n; i++) if ($i ~ /^[0-9]+$/) k++; print k }')
			if [ -z "$line" ] || [ "$cnt" != "$c" ] || [ "$zero" != 0 ]; then
				why="/proc/interrupts: $irq not counted on every CPU: '$line'"
				break
			fi
		done
	fi
	if [ -z "$why" ] && [ $rc != 0 ]; then
		why="exit status $rc, expected 0 (powered off)"
	elif [ -z "$why" ] && ! grep -q "powered off (ACPI S5" "$d/err"; then
		why="no 'powered off (ACPI S5 ...)' from hvlab-run"
	fi
	if [ -n "$why" ]; then
		notok "$name" "$why"
		echo "# --- console"; tail -n 60 "$d/o" | diag
		echo "# --- hvlab-run"; diag "$d/err"
	else
		ok "$name"
		grep -E "^(nproc|irq):" "$d/o" | diag
	fi
	b=$(sed -n "s/^hvlab-run: mark .* after \([0-9.]*\) s, \([0-9]*\) TSC.*/\1 s, \2 TSC ticks/p" "$d/err")
	echo "# boot: kvm --smp $c: to /init ${b:-not reached} (whole case $(since "$t0") s, cpu=${HVLAB_CPU:-?} smp=${HVLAB_SMP:-?})"
	sed -n "s/^hvlab-run: \([0-9]* exits to userspace.*\)/# boot: kvm --smp $c: \1/p" "$d/err"
}

if [ ! -f "$VMLINUZ" ]; then
	skipped "Linux on the APIC board" "no vmlinuz in $HR (no 6.1 kernel on the build host)"
else
	if [ "${HVLAB_CPU:-}" = intel ]; then
		default_linux=2
	else
		default_linux="1 2 4"
	fi
	for c in ${HVLAB_SMP_LINUX-$default_linux}; do
		linux_case "$c"
	done
fi
