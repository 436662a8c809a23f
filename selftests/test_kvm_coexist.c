// SPDX-License-Identifier: GPL-2.0
/*
 * test_kvm_coexist.c - hvlab and KVM in one boot.  Only one hypervisor can
 * own VT-x/SVM on a CPU at a time; each must refuse cleanly (-EBUSY) while
 * the other owns it, work again once the other lets go, and never disturb
 * the owner (a KVM guest keeps running through hvlab's refused attempt).
 *
 * KVM comes from the rig's loader (/hvlab/kmod/load-kvm, unload-kvm).  On
 * 6.12, kvm.enable_virt_at_load decides when KVM takes the hardware: =0 only
 * while it has VMs (as on 6.1), =1 from the moment kvm-amd/kvm-intel loads.
 * Every test unloads KVM at the end so the tests stay independent.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hvtest.h"

#define GUEST_CODE_GPA	0x1000
#define GUEST_MEM_SIZE	0x2000

/*
 * --- a KVM guest that spins: nop; nop; 1: inc eax; jmp 1b ------------------
 * Not a bare "jmp $" with IF=0: Bochs 2.7 treats that as a dead CPU inside
 * a nested guest and stops delivering the host's timer (the PC hangs).  With
 * IF=1 and a counter the loop also shows it ran: EAX counts the iterations.
 * KVM has no irqchip here, so IF=1 lets no interrupt in.
 */

struct kvm_guest {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *mem;
	pthread_t thread;
	volatile int entered, done;
	int ret, err;		/* of the KVM_RUN ioctl */
};

static const uint8_t guest_code[] = { 0x90, 0x90, 0x66, 0x40, 0xeb, 0xfc };
#define GUEST_LOOP_RIP	(GUEST_CODE_GPA + 2)	/* inc eax; the jmp is at +2 */

static int kvm_create_vm_errno(int kvm)
{
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);

	if (vm < 0)
		return -errno;
	close(vm);
	return 0;
}

static void noop_handler(int sig)
{
	(void)sig;
}

static void *kvm_guest_thread(void *arg)
{
	struct kvm_guest *g = arg;

	g->entered = 1;
	g->ret = ioctl(g->vcpu, KVM_RUN, 0);
	g->err = errno;
	g->done = 1;
	return NULL;
}

/* Build the VM and start KVM_RUN in a thread; 0 or -errno. */
static int kvm_guest_start(struct kvm_guest *g)
{
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int ret;

	memset(g, 0, sizeof(*g));
	g->kvm = g->vm = g->vcpu = -1;
	g->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (g->kvm < 0)
		return -errno;
	g->vm = ioctl(g->kvm, KVM_CREATE_VM, 0);
	if (g->vm < 0)
		return -errno;
	g->mem = hvt_alloc_guest_mem(GUEST_MEM_SIZE);
	if (!g->mem)
		return -ENOMEM;
	memcpy(g->mem + GUEST_CODE_GPA, guest_code, sizeof(guest_code));
	region = (struct kvm_userspace_memory_region) {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = GUEST_MEM_SIZE,
		.userspace_addr = (uintptr_t)g->mem,
	};
	if (ioctl(g->vm, KVM_SET_USER_MEMORY_REGION, &region))
		return -errno;
	g->vcpu = ioctl(g->vm, KVM_CREATE_VCPU, 0);
	if (g->vcpu < 0)
		return -errno;
	ret = ioctl(g->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret < 0)
		return -errno;
	g->run_size = ret;
	g->run = mmap(NULL, g->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, g->vcpu, 0);
	if (g->run == MAP_FAILED) {
		g->run = NULL;
		return -errno;
	}
	/* Real mode, CS base 0, IP at the code. */
	if (ioctl(g->vcpu, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(g->vcpu, KVM_SET_SREGS, &sregs))
		return -errno;
	memset(&regs, 0, sizeof(regs));
	regs.rip = GUEST_CODE_GPA;
	regs.rflags = 0x202;
	if (ioctl(g->vcpu, KVM_SET_REGS, &regs))
		return -errno;

	ret = pthread_create(&g->thread, NULL, kvm_guest_thread, g);
	if (ret)
		return -ret;
	return 0;
}

/* Kick the thread out of KVM_RUN (a signal makes it return -EINTR). */
static int kvm_guest_stop(struct kvm_guest *g)
{
	int i;

	for (i = 0; i < 500 && !g->done; i++) {
		pthread_kill(g->thread, SIGUSR1);
		usleep(10 * 1000);
	}
	if (!g->done)
		return -ETIMEDOUT;
	pthread_join(g->thread, NULL);
	return 0;
}

/* Close everything: the run page mapping holds the vCPU file too. */
static void kvm_guest_destroy(struct kvm_guest *g)
{
	if (g->run)
		munmap(g->run, g->run_size);
	g->run = NULL;
	hvt_close(&g->vcpu);
	hvt_close(&g->vm);
	hvt_close(&g->kvm);
	if (g->mem)
		munmap(g->mem, GUEST_MEM_SIZE);
	g->mem = NULL;
}

/* --- the fixture: hvlab loaded, KVM not ----------------------------------- */

FIXTURE(kvm) {
	const char *vendor_mod;
	int sys_fd;
	bool is_612;
};

static int unload_kvm(const char *vendor_mod)
{
	int ret = hvt_system(HVT_UNLOAD_KVM);

	if (ret)
		return ret > 0 ? -EIO : ret;
	if (hvt_module_loaded(vendor_mod) || hvt_module_loaded("kvm"))
		return -EBUSY;
	return 0;
}

FIXTURE_SETUP(kvm)
{
	struct sigaction sa = { .sa_handler = noop_handler };

	self->sys_fd = -1;
	self->vendor_mod = hvt_kvm_vendor_module();
	ASSERT_NE(NULL, self->vendor_mod);
	self->is_612 = hvt_kernel_is("6.12");
	if (access(HVT_LOAD_KVM, X_OK))
		SKIP(return, "no KVM loader %s: not in the rig's PC", HVT_LOAD_KVM);
	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	/* Start without KVM (a run with --kvm loads it before us). */
	ASSERT_EQ(0, unload_kvm(self->vendor_mod));
	self->sys_fd = hvlab_open();
	ASSERT_LE(0, self->sys_fd);
	/* No SA_RESTART: the signal must end KVM_RUN with -EINTR. */
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
}

FIXTURE_TEARDOWN(kvm)
{
	hvt_close(&self->sys_fd);
	if (!_metadata->skip) {
		EXPECT_EQ(0, unload_kvm(self->vendor_mod)) TH_LOG("unload-kvm");
	}
}

#define SKIPPED_IN_SETUP() do { if (_metadata->skip) return; } while (0)

static int load_kvm(bool virt_at_load, bool is_612)
{
	const char *cmd = HVT_LOAD_KVM;

	if (is_612)
		cmd = virt_at_load ? HVT_LOAD_KVM " kvm.enable_virt_at_load=1"
				   : HVT_LOAD_KVM " kvm.enable_virt_at_load=0";
	return hvt_system(cmd);
}

static void sleep_ms(unsigned int ms)
{
	usleep(ms * 1000);
}

/*
 * KVM holds the hardware only while it has a VM (6.1; 6.12 with
 * enable_virt_at_load=0):
 *   KVM loaded, no KVM VM        hvlab CREATE_VM works
 *   a KVM guest running          hvlab CREATE_VM -EBUSY, the guest runs on
 *   KVM guest gone               hvlab CREATE_VM works
 *   an hvlab VM alive            KVM_CREATE_VM fails (-EBUSY on 6.1,
 *                                -EIO on 7.x)
 *   last hvlab VM gone           KVM_CREATE_VM works
 */
TEST_F_TIMEOUT(kvm, guest_excludes_hvlab, 300)
{
	static struct kvm_guest g;	/* the thread may outlive a failed ASSERT */
	struct kvm_regs regs;
	int ret, vm, vcpu, kvm;

	SKIPPED_IN_SETUP();
	ASSERT_EQ(0, load_kvm(false, self->is_612)) TH_LOG("load-kvm");
	ASSERT_EQ(1, hvt_module_loaded(self->vendor_mod));

	/* KVM loaded but idle: hvlab may use the hardware. */
	vm = hvlab_create_vm(self->sys_fd, 0);
	ASSERT_LE(0, vm) TH_LOG("CREATE_VM with idle KVM loaded: %s", strerror(-vm));
	close(vm);

	ret = kvm_guest_start(&g);
	ASSERT_EQ(0, ret) TH_LOG("KVM guest: %s", strerror(-ret));
	/* The thread says so first thing: no deadline in host time for that. */
	while (!g.entered)
		sleep_ms(10);
	sleep_ms(300);
	ASSERT_EQ(0, g.done) TH_LOG("KVM_RUN returned %d (%s), exit reason %u",
				    g.ret, strerror(g.err), g.run->exit_reason);

	/* While the KVM guest runs: refused, twice, and the guest runs on. */
	EXPECT_EQ(-EBUSY, hvlab_create_vm(self->sys_fd, 0));
	EXPECT_EQ(-EBUSY, hvlab_create_vm(self->sys_fd, 0));
	sleep_ms(300);
	EXPECT_EQ(0, g.done) TH_LOG("KVM guest stopped after hvlab's attempt: "
				    "KVM_RUN %d (%s), exit reason %u",
				    g.ret, strerror(g.err), g.run->exit_reason);

	ASSERT_EQ(0, kvm_guest_stop(&g)) TH_LOG("KVM_RUN did not return on a signal");
	EXPECT_EQ(-1, g.ret);
	EXPECT_EQ(EINTR, g.err) TH_LOG("KVM_RUN: %s, exit reason %u",
				       strerror(g.err), g.run->exit_reason);
	/* The guest really ran: it is in its loop and has counted. */
	ASSERT_EQ(0, ioctl(g.vcpu, KVM_GET_REGS, &regs));
	EXPECT_TRUE(regs.rip == GUEST_LOOP_RIP || regs.rip == GUEST_LOOP_RIP + 2)
		TH_LOG("rip %#llx", (unsigned long long)regs.rip);
	EXPECT_NE(0ull, regs.rax) TH_LOG("EAX did not count");
	TH_LOG("KVM guest: %llu loop iterations", (unsigned long long)regs.rax);
	kvm_guest_destroy(&g);

	/* KVM let go when its last VM went away. */
	vm = hvlab_create_vm(self->sys_fd, 0);
	ASSERT_LE(0, vm) TH_LOG("CREATE_VM after the KVM guest: %s", strerror(-vm));

	/*
	 * Now hvlab owns the hardware: KVM must be refused.  Not asked on
	 * 6.12: its KVM registers its emergency-reboot callback
	 * (kvm_enable_virtualization) before it finds the CPUs taken, and
	 * the kernel WARNs because hvlab's callback holds the one slot
	 * (module/hw.c explains why hvlab keeps it).  6.1's KVM registers
	 * nothing at KVM_CREATE_VM.
	 */
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, kvm);
	if (!self->is_612) {
		/*
		 * 6.1's KVM says EBUSY; from 7.0 the kernel's own x86
		 * virtualization layer turns SVM on for KVM and reports the
		 * CPU it could not enable as EIO (Debian's 7.2).
		 */
		int want = hvt_kernel_is("7") ? -EIO : -EBUSY;

		ret = kvm_create_vm_errno(kvm);
		TH_LOG("KVM_CREATE_VM with an hvlab VM alive: %d (%s)", ret, strerror(-ret));
		EXPECT_EQ(want, ret);
	}
	/* ...and hvlab's VM is undisturbed. */
	vcpu = hvlab_create_vcpu(vm, 0);
	EXPECT_LE(0, vcpu);
	if (vcpu >= 0)
		close(vcpu);
	close(vm);

	/* hvlab let go with its last VM. */
	ret = kvm_create_vm_errno(kvm);
	EXPECT_EQ(0, ret) TH_LOG("KVM_CREATE_VM after hvlab's last VM: %s", strerror(-ret));
	close(kvm);
}

/* 6.12, enable_virt_at_load=1: KVM owns the hardware while kvm-<vendor> is loaded. */
TEST_F_TIMEOUT(kvm, virt_at_load_excludes_hvlab, 300)
{
	int ret, vm;

	SKIPPED_IN_SETUP();
	if (!self->is_612)
		SKIP(return, "kvm.enable_virt_at_load exists on 6.12, not on this kernel");
	ASSERT_EQ(0, load_kvm(true, true)) TH_LOG("load-kvm kvm.enable_virt_at_load=1");
	ASSERT_EQ(1, hvt_module_loaded(self->vendor_mod));

	EXPECT_EQ(-EBUSY, hvlab_create_vm(self->sys_fd, 0));
	sleep_ms(100);
	EXPECT_EQ(-EBUSY, hvlab_create_vm(self->sys_fd, 0));

	ASSERT_EQ(0, unload_kvm(self->vendor_mod));
	vm = hvlab_create_vm(self->sys_fd, 0);
	ASSERT_LE(0, vm) TH_LOG("CREATE_VM after rmmod %s: %s", self->vendor_mod,
				strerror(-vm));
	ret = hvlab_create_vcpu(vm, 0);
	EXPECT_LE(0, ret);
	if (ret >= 0)
		close(ret);
	close(vm);
}

/* 6.12, enable_virt_at_load=1: loading KVM while hvlab owns the hardware fails. */
TEST_F_TIMEOUT(kvm, virt_at_load_refused_while_hvlab_vm, 300)
{
	int ret, vm, vcpu;

	SKIPPED_IN_SETUP();
	if (!self->is_612)
		SKIP(return, "kvm.enable_virt_at_load exists on 6.12, not on this kernel");
	vm = hvlab_create_vm(self->sys_fd, 0);
	ASSERT_LE(0, vm);

	ret = load_kvm(true, true);
	EXPECT_NE(0, ret) TH_LOG("load-kvm succeeded while an hvlab VM exists");
	EXPECT_EQ(0, hvt_module_loaded(self->vendor_mod));

	/* hvlab is undisturbed... */
	vcpu = hvlab_create_vcpu(vm, 0);
	EXPECT_LE(0, vcpu);
	if (vcpu >= 0)
		close(vcpu);
	close(vm);
	ASSERT_EQ(0, unload_kvm(self->vendor_mod));

	/* ...and with hvlab's VM gone, KVM loads and takes the hardware. */
	ASSERT_EQ(0, load_kvm(true, true)) TH_LOG("load-kvm after the hvlab VM");
	EXPECT_EQ(-EBUSY, hvlab_create_vm(self->sys_fd, 0));
}

/*
 * 6.1: kvm-intel registers its emergency-reboot callback from load to
 * unload (vmx_init), kvm-amd never.  While an hvlab VM exists hvlab's own
 * callback holds the kernel's one slot, so kvm-intel must not load (hvlab
 * refuses it; a second registration would WARN and leave hvlab's in
 * place); kvm-amd loads.  With kvm-intel loaded first, hvlab relies on its
 * callback and pins it: rmmod kvm-intel fails while hvlab has a VM.  The
 * rig's dmesg check shows no WARN came from either side.  (6.12:
 * virt_at_load_refused_while_hvlab_vm.)
 */
TEST_F_TIMEOUT(kvm, load_and_unload_with_hvlab_vm, 300)
{
	bool intel = !strcmp(self->vendor_mod, "kvm_intel");
	int ret, vm, vcpu;

	SKIPPED_IN_SETUP();
	if (self->is_612)
		SKIP(return, "6.1 rules; 6.12 has virt_at_load_refused_while_hvlab_vm");
	vm = hvlab_create_vm(self->sys_fd, 0);
	ASSERT_LE(0, vm);
	ret = load_kvm(false, false);
	if (intel) {
		EXPECT_NE(0, ret) TH_LOG("kvm-intel loaded while an hvlab VM exists");
		EXPECT_EQ(0, hvt_module_loaded(self->vendor_mod));
	} else {
		EXPECT_EQ(0, ret) TH_LOG("kvm-amd registers no callback on 6.1; load-kvm failed");
		EXPECT_EQ(1, hvt_module_loaded(self->vendor_mod));
	}
	vcpu = hvlab_create_vcpu(vm, 0);
	EXPECT_LE(0, vcpu);
	if (vcpu >= 0)
		close(vcpu);
	close(vm);
	ASSERT_EQ(0, unload_kvm(self->vendor_mod));
	if (!intel)
		return;

	/* kvm-intel first: hvlab's VM pins it. */
	ASSERT_EQ(0, load_kvm(false, false)) TH_LOG("load-kvm without hvlab VMs");
	vm = hvlab_create_vm(self->sys_fd, 0);
	ASSERT_LE(0, vm) TH_LOG("CREATE_VM with idle kvm-intel: %s", strerror(-vm));
	ret = hvt_module_unload("kvm_intel");
	EXPECT_NE(0, ret) TH_LOG("rmmod kvm_intel while hvlab relies on its callback");
	EXPECT_EQ(1, hvt_module_loaded("kvm_intel"));
	close(vm);
	EXPECT_EQ(0, unload_kvm(self->vendor_mod)) TH_LOG("rmmod after the hvlab VM");
}

#define FAIL_CPU_PARAM	"/sys/module/hvlab/parameters/fail_enable_cpu"

/* How many times the kernel log says an hvlab VM was not created. */
static int refusals_logged(void)
{
	static char buf[1 << 20];
	int len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf) - 1);
	int n = 0;
	char *p;

	if (len < 0)
		return -errno;
	buf[len] = 0;
	for (p = buf; (p = strstr(p, "hvlab: ")); p++) {
		char *eol = strchr(p, '\n');

		if (eol)
			*eol = 0;
		if (strstr(p, "VM not created"))
			n++;
		if (eol)
			*eol = '\n';
	}
	return n;
}

/*
 * One CPU refuses (the module's fail_enable_cpu knob makes CPU 1 answer
 * as if another hypervisor held it): CREATE_VM fails with EBUSY and one
 * log line, and CPU 0, which hvlab had switched on, is switched off again.
 * KVM is the judge of that: its per-CPU enable refuses a CPU that already
 * has EFER.SVME (kvm-amd) or CR4.VMXE (kvm-intel) set, so KVM_CREATE_VM
 * works only if no CPU was left half-enabled.
 */
TEST_F_TIMEOUT(kvm, refused_cpu_rolls_back_the_others, 300)
{
	int ret, vm, kvm, before;

	SKIPPED_IN_SETUP();
	if (hvt_cpus_online() < 2)
		SKIP(return, "one CPU: nothing to roll back (run-all runs this case in the 2-CPU AMD PCs; "
			     "the rollback code is vendor-neutral, module/hw.c)");
	before = refusals_logged();
	ASSERT_LE(0, before) TH_LOG("syslog: %s", strerror(-before));
	ASSERT_EQ(0, hvt_write_str(FAIL_CPU_PARAM, "1"));
	vm = hvlab_create_vm(self->sys_fd, 0);
	EXPECT_EQ(0, hvt_write_str(FAIL_CPU_PARAM, "-1"));
	ASSERT_EQ(-EBUSY, vm) TH_LOG("CREATE_VM with CPU 1 refusing");
	EXPECT_EQ(before + 1, refusals_logged()) TH_LOG("one log line per refusal");

	ASSERT_EQ(0, load_kvm(false, self->is_612)) TH_LOG("load-kvm");
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, kvm) TH_LOG("/dev/kvm: %s", strerror(errno));
	ret = kvm_create_vm_errno(kvm);
	close(kvm);
	ASSERT_EQ(0, ret) TH_LOG("KVM_CREATE_VM after hvlab's refused CREATE_VM: %s "
				 "(a CPU was left with VT-x/SVM on)", strerror(-ret));
	/* And hvlab works again once KVM's VM is gone. */
	vm = hvlab_create_vm(self->sys_fd, 0);
	ASSERT_LE(0, vm) TH_LOG("CREATE_VM: %s", strerror(-vm));
	close(vm);
}

TEST_HARNESS_MAIN
