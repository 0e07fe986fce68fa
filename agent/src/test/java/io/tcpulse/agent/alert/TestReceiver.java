package io.tcpulse.agent.alert;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.IntSupplier;

/**
 * A webhook receiver the test starts, stops and starts again on the same port, answering
 * what the test says; it records every request.
 */
public final class TestReceiver implements AutoCloseable {
    public record Request(String idempotencyKey, String signature, String contentType, String body, int status) {}

    public final List<Request> requests = Collections.synchronizedList(new ArrayList<>());
    public volatile IntSupplier status = () -> 200;
    public final int port;
    private HttpServer server;

    public TestReceiver() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
    }

    public String url() {
        return "http://127.0.0.1:" + port + "/hook";
    }

    public synchronized void up() throws IOException {
        if (server != null) return;
        IOException last = null;
        for (int i = 0; i < 50; i++) { // the port may linger a moment after down()
            try {
                server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
                break;
            } catch (java.net.BindException e) {
                last = e;
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException(ie);
                }
            }
        }
        if (server == null) throw last;
        server.createContext("/", ex -> {
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            int code = status.getAsInt();
            requests.add(new Request(ex.getRequestHeaders().getFirst("Idempotency-Key"),
                    ex.getRequestHeaders().getFirst("X-Tcpulse-Signature"),
                    ex.getRequestHeaders().getFirst("Content-Type"), body, code));
            ex.sendResponseHeaders(code, -1);
            ex.close();
        });
        server.start();
    }

    public synchronized void down() {
        if (server == null) return;
        server.stop(0);
        server = null;
    }

    /** Requests answered 2xx, in arrival order. */
    public List<Request> delivered() {
        synchronized (requests) {
            return requests.stream().filter(r -> r.status() >= 200 && r.status() < 300).toList();
        }
    }

    @Override
    public void close() {
        down();
    }
}
