package io.tcpulse.agent.aggregate;

/** Handshake and lifetime distributions of one namespace (or all). Read-only once published. */
public record Latency(Histogram handshakeClient, Histogram handshakeServer, Histogram lifetime) {
    public static Latency empty() {
        return new Latency(new Histogram(), new Histogram(), new Histogram());
    }

    public Latency copy() {
        return new Latency(handshakeClient.copy(), handshakeServer.copy(), lifetime.copy());
    }

    public void add(Latency o) {
        handshakeClient.add(o.handshakeClient);
        handshakeServer.add(o.handshakeServer);
        lifetime.add(o.lifetime);
    }
}
