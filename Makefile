# SPDX-License-Identifier: GPL-2.0
# hvlab top-level Makefile.
#
#   make                     module for every installed Debian kernel we test
#                            (6.1 and 6.12), userspace tools, selftests
#   make module KVER=<ver>   hvlab.ko for one kernel -> build/<ver>/hvlab.ko
#   make module KDIR=<dir>   hvlab.ko against any configured kernel tree
#                            (its kernel.release names build/<ver>/)
#   make test                every selftest on both emulated vendors
#   make setup               install every dependency (Debian packages)
#
# The host never loads hvlab.ko: modules are built against the Debian
# kernels that boot inside the emulated PCs, never against `uname -r`.

KVERS_ALL := $(notdir $(patsubst %/build,%,$(wildcard /lib/modules/6.1.*-amd64/build /lib/modules/6.12.*-amd64/build)))
KVER      ?= $(lastword $(sort $(filter 6.1.%,$(KVERS_ALL))))
KVERS     ?= $(KVERS_ALL)
# KDIR: the kernel build tree (default: the Debian headers of KVER).
ifneq ($(KDIR),)
KVER      := $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null)
KVERS     := $(KVER)
else
KDIR       = /lib/modules/$(KVER)/build
endif
W         ?= 1

.PHONY: all modules module kobj-clean userspace selftests test setup clean

all: modules userspace selftests

modules:
	@test -n "$(strip $(KVERS))" || \
		{ echo "no Debian 6.1 or 6.12 kernel headers in /lib/modules: run 'make setup'" >&2; exit 1; }
	@for v in $(KVERS); do $(MAKE) --no-print-directory module KVER=$$v || exit 1; done

# kbuild writes objects next to the sources, so building for another kernel
# first removes the previous kernel's objects (not with kbuild's own clean,
# which would also delete the other kernels' results under build/).
KOBJ_DIRS := . module vmx svm mmu
kobj-clean:
	@for d in $(KOBJ_DIRS); do [ -d $$d ] && rm -f $$d/*.o $$d/.*.cmd $$d/*.mod $$d/*.mod.c $$d/*.ko; done; \
		rm -f Module.symvers modules.order; true

module:
	@test -n "$(KVER)" -a -d "$(KDIR)" || \
		{ echo "no kernel headers for '$(KVER)' ($(KDIR)): run 'make setup'" >&2; exit 1; }
	@if [ "$$(cat build/.module-kver 2>/dev/null)" != "$(KVER)" ]; then \
		$(MAKE) --no-print-directory kobj-clean; fi
	@mkdir -p build/$(KVER) && echo $(KVER) > build/.module-kver
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=$(W) modules
	cp hvlab.ko build/$(KVER)/hvlab.ko

userspace:
	$(MAKE) -C userspace

selftests: userspace
	$(MAKE) -C selftests

test:
	selftests/run-all

setup:
	selftests/vm/setup

clean: kobj-clean
	rm -rf build
