package io.tcpulse.agent.model;

/**
 * One thing the probe does on this kernel (native/tcpulse.h, enum tcpulse_feature):
 * {@code reason} says, when it is off, why (the kernel's words) and what stands in.
 */
public record ProbeFeature(String name, boolean on, String what, String reason) {}
