package io.tcpulse.agent.alert;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Notifications waiting for a receiver, on disk: one file per (notification, receiver) in
 * STATE_DIR/outbox/RECEIVER/, named by a sequence number so a directory listing is the
 * delivery order. Each file is written with fsync and an atomic rename before the engine
 * goes on, and deleted only once the receiver answered 2xx (or a 4xx was given up on):
 * a crash or restart loses nothing, and at worst repeats a delivery under the same
 * idempotency key.
 */
final class Outbox {
    private static final System.Logger LOG = System.getLogger(Outbox.class.getName());
    private static final Pattern NAME = Pattern.compile("(\\d{19})-([0-9a-f-]{36})\\.json");

    /** One pending delivery. attempts: 4xx answers so far (other failures are retried forever). */
    record Entry(Path file, String receiver, long seq, String id, int attempts, Instant createdAt, String body) {}

    private final Path dir;
    private long seq;

    Outbox(Path dir) throws IOException {
        this.dir = dir;
        Files.createDirectories(dir);
        long max = 0;
        for (String receiver : receivers()) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir.resolve(receiver), DurableFiles.TMP_PREFIX + "*")) {
                for (Path p : ds) Files.deleteIfExists(p); // a write that never completed: never queued
            }
            for (Path f : files(receiver)) max = Math.max(max, seqOf(f));
        }
        seq = max;
    }

    Path dir() { return dir; }

    /** Queues body for receiver; on disk when this returns. */
    synchronized Entry add(String receiver, String id, String body) throws IOException {
        Path rdir = dir.resolve(receiver);
        Files.createDirectories(rdir);
        long s = ++seq;
        Entry e = new Entry(rdir.resolve(String.format("%019d-%s.json", s, id)), receiver, s, id, 0, Instant.now(), body);
        write(e);
        return e;
    }

    /** Records another 4xx answer. */
    Entry attempted(Entry e) throws IOException {
        Entry next = new Entry(e.file(), e.receiver(), e.seq(), e.id(), e.attempts() + 1, e.createdAt(), e.body());
        write(next);
        return next;
    }

    void remove(Entry e) throws IOException {
        DurableFiles.delete(e.file());
    }

    /** Deletes everything that waits for receiver (removed from the config); returns how many. */
    int drop(String receiver) throws IOException {
        List<Path> files = files(receiver);
        for (Path f : files) DurableFiles.delete(f);
        return files.size();
    }

    /** What waits for receiver, oldest first; unreadable files are set aside as *.bad. */
    List<Entry> pending(String receiver) throws IOException {
        List<Entry> out = new ArrayList<>();
        for (Path f : files(receiver)) {
            try {
                JsonObject o = new JsonObject(Files.readString(f, StandardCharsets.UTF_8));
                out.add(new Entry(f, receiver, seqOf(f), o.getString("id"), o.getInteger("attempts", 0),
                        Instant.parse(o.getString("createdAt")), o.getString("body")));
            } catch (DecodeException | ClassCastException | NullPointerException | java.time.DateTimeException e) {
                Path bad = f.resolveSibling(f.getFileName() + ".bad");
                LOG.log(System.Logger.Level.ERROR, "outbox file " + f + " is unreadable (" + e.getMessage()
                        + "); moved to " + bad);
                Files.move(f, bad);
            }
        }
        return out;
    }

    /** Receivers that have a directory here (possibly no longer configured). */
    List<String> receivers() throws IOException {
        List<String> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, Files::isDirectory)) {
            for (Path p : ds) out.add(p.getFileName().toString());
        }
        out.sort(null);
        return out;
    }

    private List<Path> files(String receiver) throws IOException {
        Path rdir = dir.resolve(receiver);
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(rdir)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(rdir)) {
            for (Path p : ds) {
                if (NAME.matcher(p.getFileName().toString()).matches()) out.add(p);
            }
        }
        out.sort(null);
        return out;
    }

    private static long seqOf(Path f) {
        Matcher m = NAME.matcher(f.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : 0;
    }

    private static void write(Entry e) throws IOException {
        JsonObject o = new JsonObject()
                .put("id", e.id())
                .put("receiver", e.receiver())
                .put("attempts", e.attempts())
                .put("createdAt", e.createdAt().toString())
                .put("body", e.body());
        DurableFiles.write(e.file(), o.encode().getBytes(StandardCharsets.UTF_8));
    }
}
