package io.tcpulse.agent.kernel;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** An agent in a process of its own: its output kept, and the port its log says it listens on. */
record ChildOutput(int port, Thread reader, StringBuffer log) {
    private static final Pattern LISTENING = Pattern.compile("tcpulse listening on https?://127\\.0\\.0\\.1:(\\d+)/");

    /** Reads p's output on a daemon thread until p ends; returns once it listens (60 s at most, else kills it). */
    static ChildOutput follow(Process p, String threadName) {
        StringBuffer log = new StringBuffer();
        CompletableFuture<Integer> port = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    log.append(line).append('\n');
                    Matcher m = LISTENING.matcher(line);
                    if (m.find()) port.complete(Integer.parseInt(m.group(1)));
                }
            } catch (IOException ignored) {
                // the process ended
            }
            port.completeExceptionally(new AssertionError("agent exited before listening:\n" + log));
        }, threadName);
        reader.setDaemon(true);
        reader.start();
        try {
            return new ChildOutput(port.get(60, TimeUnit.SECONDS), reader, log);
        } catch (Exception e) {
            p.destroyForcibly();
            throw new AssertionError("agent did not start: " + e.getMessage() + "\n" + log, e);
        }
    }
}
