# SPDX-License-Identifier: GPL-2.0
# selftests/lib/tap.sh - TAP output for the shell selftests (test_*.sh),
# sourced by each, so all of them count, print and exit the same way.
# POSIX sh (the emulated PC runs busybox ash).  A script finds this file
# in lib/ next to itself: selftests/lib/ in the tree, build/selftests/lib/
# after make (selftests/Makefile), /hvlab/tests/lib/ in the PC (vm/run
# copies build/selftests/ whole).  The tests are not installed by make
# install nor packaged (debian/rules: no selftests).
#
#   ok NAME             a case passed
#   notok NAME WHY      a case failed, and why
#   skipped NAME WHY    a case was skipped, and why
#   diag [FILE...]      FILE (or stdin) as TAP comment lines
#   tap_cleanup         run first at exit: a script redefines it to undo
#                       what it set up (temporary files, a loaded KVM)
#
# Sourcing prints the TAP header and sets the EXIT trap, which prints the
# plan and the kselftest "# Totals:" line and exits as kselftest's runner
# expects: 1 if a case failed, else 4 (skip) if none passed, else 0.

n=0 pass=0 fail=0 skip=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1 # $2"; }
skipped() { n=$((n + 1)); skip=$((skip + 1)); echo "ok $n $1 # SKIP $2"; }
diag() { sed 's/^/# /' "$@"; }

tap_cleanup() { :; }
tap_finish() {
	tap_cleanup
	echo "1..$n"
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
	[ $fail = 0 ] || exit 1
	[ $pass = 0 ] && exit 4
	exit 0
}
trap tap_finish EXIT

echo "TAP version 13"
