// CUDA emulation: the context switch between the fibers that play CUDA threads (and the scheduler of their
// block), x86-64 System V. A switch saves what the ABI says a callee must preserve: rbx, rbp, r12-r15, the
// SSE control/status word and the x87 control word; everything else the compiler already treats as clobbered
// by a call. About 20 instructions instead of ucontext's signal-mask system call per switch: a kernel test
// makes tens of millions of switches.
        .text
        .globl  emu_switch
        .type   emu_switch, @function
// void emu_switch(void **save_sp, void *load_sp): saves the caller's context, stores its stack pointer in
// *save_sp and continues the context whose stack pointer is load_sp.
emu_switch:
        .cfi_startproc
        endbr64
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   emu_switch, .-emu_switch

        .globl  emu_fiber_entry
        .type   emu_fiber_entry, @function
// Where a new fiber starts: the first emu_switch into it "returns" here with a 16-byte aligned stack.
// emu_fiber_main never returns (a finished fiber switches back to its scheduler for good).
emu_fiber_entry:
        endbr64
        xorl    %ebp, %ebp
        call    emu_fiber_main
        ud2
        .size   emu_fiber_entry, .-emu_fiber_entry

        .section .note.GNU-stack,"",@progbits
