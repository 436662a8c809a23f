#!/bin/sh
# test_labs: every lab of docs/labs/ checked in one boot of the PC (CI).
# selftests/labs/build-labs builds, for each lab, hvlab.ko (and the tools
# and lab binaries, where the solution changes them) from a scratch copy
# of the tree with the lab's reference solution applied (see there for
# the layout); run-all passes them in with --add.  For each lab, in turn:
#   1. the unmodified tree's hvlab.ko and binaries: the check must FAIL
#      (a check that cannot fail proves nothing);
#   2. the solution's hvlab.ko and binaries: the check must PASS.
# hvlab.ko of the unmodified tree is loaded again at the end.  TAP output
# with a kselftest "# Totals" line.  Skips (exit 4) where no lab build
# for this kernel was passed in.
LABS=/hvlab/add/labs
BASE_KO=/hvlab/hvlab.ko
BASE_DIR=/hvlab/tests/labs
LAB=/hvlab/tests/lab

if [ ! -f "$LABS/kver" ]; then
	echo "1..0 # SKIP no lab builds in this PC (selftests/labs/build-labs, passed in by run-all for amd-6.1 and intel-6.1)"
	echo "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0"
	exit 4
fi
if [ "$(cat "$LABS/kver")" != "$(uname -r)" ]; then
	echo "1..0 # SKIP the labs were built for $(cat "$LABS/kver"), this PC runs $(uname -r)"
	echo "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0"
	exit 4
fi

n=0 pass=0 fail=0
set -- $(ls -d "$LABS"/[0-9][0-9]-* 2>/dev/null)
echo "1..$(($# * 2))"
for d in "$@"; do
	name=${d##*/}
	nn=${name%%-*}
	# 1: the unmodified tree.
	n=$((n + 1))
	"$LAB" --ko "$BASE_KO" --dir "$BASE_DIR" "$nn" >/tmp/lab-out.$$ 2>&1
	rc=$?
	echo "# $name on the unmodified tree (must FAIL):"
	sed 's/^/#   /' /tmp/lab-out.$$
	if [ $rc = 1 ]; then
		echo "ok $n $name fails on the unmodified tree"
		pass=$((pass + 1))
	else
		echo "not ok $n $name does not fail on the unmodified tree"
		fail=$((fail + 1))
	fi
	# 2: the reference solution.
	n=$((n + 1))
	dir=$BASE_DIR run=hvlab-run
	[ -d "$d/labs" ] && dir=$d/labs
	[ -x "$d/hvlab-run" ] && run=$d/hvlab-run
	"$LAB" --ko "$d/hvlab.ko" --dir "$dir" --run "$run" "$nn" >/tmp/lab-out.$$ 2>&1
	rc=$?
	echo "# $name with its reference solution (must PASS):"
	sed 's/^/#   /' /tmp/lab-out.$$
	if [ $rc = 0 ]; then
		echo "ok $n $name passes with its solution"
		pass=$((pass + 1))
	else
		echo "not ok $n $name fails with its solution"
		fail=$((fail + 1))
	fi
done
rm -f /tmp/lab-out.$$
rmmod hvlab 2>/dev/null
insmod "$BASE_KO" || { echo "not ok $((n + 1)) reload of the unmodified hvlab.ko"; fail=$((fail + 1)); }
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ $fail = 0 ]
