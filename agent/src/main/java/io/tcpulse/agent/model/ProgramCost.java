package io.tcpulse.agent.model;

/**
 * One attached BPF program's cost as the kernel counts it (bpf_prog_info; native/tcpulse.h,
 * struct tcpulse_prog_stat). runs and runNanos move only while the kernel counts run time;
 * recursionMisses always: runs the kernel skipped because the program was already running
 * on that CPU.
 */
public record ProgramCost(String name, String feature, long runs, long runNanos, long recursionMisses) {}
