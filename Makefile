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
#   make install             tools, man pages, uapi header, libhvlab (.a, .so,
#                            pkg-config), udev rule, modprobe.d example;
#                            DESTDIR, PREFIX (/usr/local) and the *DIR
#                            variables below are honoured.  make uninstall
#                            removes exactly those files.
#   make dkms-install        the module's sources to /usr/src/hvlab-VERSION,
#                            then dkms builds and installs hvlab.ko for every
#                            kernel whose headers are in /lib/modules
#                            (make dkms-uninstall undoes it)
#   make deb                 Debian packages hvlab-dkms, hvlab-tools,
#                            libhvlab1, libhvlab-dev in build/deb/
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

.PHONY: all modules module kobj-clean userspace selftests test setup clean \
	install uninstall dkms-source dkms-install dkms-uninstall deb

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

# ------------------------------------------------------------- install --
# One version for DKMS, the pkg-config file and the Debian packages: the
# one in dkms.conf (make deb checks debian/changelog agrees).
VERSION    := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"$$/\1/p' $(CURDIR)/dkms.conf)
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# udev and modprobe read /etc (and /lib), never PREFIX: the local
# administrator's place is /etc whatever the prefix; packages put the udev
# rule under /lib/udev/rules.d instead.
SYSCONFDIR ?= /etc
UDEVRULESDIR ?= $(SYSCONFDIR)/udev/rules.d
MODPROBEDIR  ?= $(SYSCONFDIR)/modprobe.d
INSTALL    ?= install

TOOLS_BIN  := hvlab-run hvlab-stat hvlab-bench hvlab-hello hvlab-dump
MAN1       := $(addsuffix .1,$(TOOLS_BIN))
MAN4       := hvlab.4
SOVERSION  := 1
SOFULL     := $(SOVERSION).0.0
BLD        := $(CURDIR)/build

# Every file install puts down, for uninstall: nothing else is removed.
INSTALLED_FILES = \
	$(addprefix $(BINDIR)/,$(TOOLS_BIN)) \
	$(addprefix $(MANDIR)/man1/,$(MAN1)) $(MANDIR)/man4/$(MAN4) \
	$(INCLUDEDIR)/hvlab/hvlab.h $(INCLUDEDIR)/hvlab/hvlab_vmcs.h $(INCLUDEDIR)/hvlab/hvlab_vmcb.h \
	$(INCLUDEDIR)/hvlab/libhvlab.h \
	$(LIBDIR)/libhvlab.a $(LIBDIR)/libhvlab.so.$(SOFULL) \
	$(LIBDIR)/libhvlab.so.$(SOVERSION) $(LIBDIR)/libhvlab.so \
	$(PKGCONFIGDIR)/hvlab.pc \
	$(UDEVRULESDIR)/70-hvlab.rules $(MODPROBEDIR)/hvlab.conf

install: userspace
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man4 \
		$(DESTDIR)$(INCLUDEDIR)/hvlab $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(MODPROBEDIR)
	$(INSTALL) -m 0755 $(addprefix $(BLD)/bin/,$(TOOLS_BIN)) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0644 $(addprefix man/,$(MAN1)) $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 man/$(MAN4) $(DESTDIR)$(MANDIR)/man4/
	$(INSTALL) -m 0644 uapi/hvlab.h uapi/hvlab_vmcs.h uapi/hvlab_vmcb.h userspace/lib/libhvlab.h $(DESTDIR)$(INCLUDEDIR)/hvlab/
	$(INSTALL) -m 0644 $(BLD)/lib/libhvlab.a $(DESTDIR)$(LIBDIR)/
	$(INSTALL) -m 0644 $(BLD)/lib/libhvlab.so.$(SOFULL) $(DESTDIR)$(LIBDIR)/
	ln -sf libhvlab.so.$(SOFULL) $(DESTDIR)$(LIBDIR)/libhvlab.so.$(SOVERSION)
	ln -sf libhvlab.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libhvlab.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		dist/hvlab.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/hvlab.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/hvlab.pc
	$(INSTALL) -m 0644 dist/70-hvlab.rules $(DESTDIR)$(UDEVRULESDIR)/
	$(INSTALL) -m 0644 dist/hvlab.conf $(DESTDIR)$(MODPROBEDIR)/

# The standard directories stay (as automake's uninstall leaves them);
# include/hvlab is ours and goes when empty.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED_FILES))
	-rmdir $(DESTDIR)$(INCLUDEDIR)/hvlab 2>/dev/null

# ---------------------------------------------------------------- DKMS --
# What DKMS needs to build hvlab.ko, and nothing built: the sources of
# the module, Kbuild and dkms.conf (the package's copyright file holds
# the licence).
DKMS_SRCDIR ?= /usr/src/hvlab-$(VERSION)
DKMS_FILES  := Kbuild dkms.conf uapi/hvlab.h uapi/hvlab_vmcs.h uapi/hvlab_vmcb.h \
	$(filter-out module/hv_offsets.h,$(wildcard $(addsuffix /*.[chS],$(KOBJ_DIRS:.=))))
dkms-source:
	@for f in $(sort $(DKMS_FILES)); do \
		$(INSTALL) -D -m 0644 $$f $(DESTDIR)$(DKMS_SRCDIR)/$$f || exit 1; done

# For every kernel with headers (dkms skips, with a message, the kernels
# dkms.conf's BUILD_EXCLUSIVE_KERNEL leaves out).
dkms-install: dkms-source
	dkms add -m hvlab -v $(VERSION)
	@for b in /lib/modules/*/build; do k=$${b%/build}; k=$${k#/lib/modules/}; \
		echo "dkms install -m hvlab -v $(VERSION) -k $$k"; \
		dkms install -m hvlab -v $(VERSION) -k $$k; st=$$?; \
		[ $$st = 0 ] || [ $$st = 77 ] || exit $$st; done

dkms-uninstall:
	-dkms remove -m hvlab -v $(VERSION) --all
	rm -rf $(DKMS_SRCDIR)

# ------------------------------------------------------------- packages --
# dpkg-buildpackage in a copy of the sources under build/deb/ (so nothing
# built lands in the tree and the source package holds no build output);
# the .deb files land in build/deb/.
DEB_SRC_FILES = $(shell git -C $(CURDIR) ls-files 2>/dev/null)
deb:
	@cv=$$(dpkg-parsechangelog -l debian/changelog -S Version); \
		[ "$${cv%-*}" = "$(VERSION)" ] || { echo "debian/changelog says $$cv, dkms.conf $(VERSION)" >&2; exit 1; }
	rm -rf $(BLD)/deb && mkdir -p $(BLD)/deb/hvlab-$(VERSION)
	@test -n "$(DEB_SRC_FILES)" || { echo "make deb needs a git checkout (git ls-files)" >&2; exit 1; }
	tar -C $(CURDIR) -cf - $(DEB_SRC_FILES) | tar -C $(BLD)/deb/hvlab-$(VERSION) -xf -
	cd $(BLD)/deb/hvlab-$(VERSION) && dpkg-buildpackage -us -uc --build=full
