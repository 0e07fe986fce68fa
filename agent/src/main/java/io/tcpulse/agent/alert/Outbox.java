package io.tcpulse.agent.alert;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Notifications waiting for a receiver, on disk: one file per (notification, receiver) in
 * STATE_DIR/outbox/RECEIVER/, named by a sequence number so a directory listing is the
 * delivery order, and marked resolved (".r") or firing (".f") so the bound can drop
 * resolved ones first without reading them. Each file is written with fsync and an atomic
 * rename before the engine goes on, and deleted only once the receiver answered 2xx (or
 * it was given up on): a crash or restart loses nothing, and at worst repeats a delivery
 * under the same idempotency key.
 *
 * Only names, sizes and times are kept in memory; a body is read when it is sent. A file
 * that cannot be read is moved to STATE_DIR/outbox-quarantine/RECEIVER/.
 */
final class Outbox {
    private static final System.Logger LOG = System.getLogger(Outbox.class.getName());
    private static final Pattern NAME = Pattern.compile("(\\d{19})-([0-9a-f-]{36})(?:\\.([fr]))?\\.json");

    /**
     * One pending delivery. attempts: 4xx answers so far; body null until read (see
     * {@link #load}); bytes: the file's size.
     */
    record Entry(Path file, String receiver, long seq, String id, int attempts, Instant createdAt, String body,
                 boolean resolved, long bytes) {
        Entry withoutBody() {
            return body == null ? this : new Entry(file, receiver, seq, id, attempts, createdAt, null, resolved, bytes);
        }
    }

    /** A file that cannot be read as a notification. */
    static final class Corrupt extends IOException {
        Corrupt(String message) {
            super(message);
        }
    }

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
            for (String f : names(receiver)) max = Math.max(max, seqOf(f));
        }
        seq = max;
    }

    Path dir() { return dir; }

    /** Where unreadable files go: beside the outbox, not in it. */
    Path quarantine() { return dir.resolveSibling(dir.getFileName() + "-quarantine"); }

    /** Queues a firing notification's body for receiver; on disk when this returns. */
    Entry add(String receiver, String id, String body) throws IOException {
        return add(receiver, id, body, false);
    }

    /** Queues body for receiver; on disk when this returns. */
    synchronized Entry add(String receiver, String id, String body, boolean resolved) throws IOException {
        Path rdir = dir.resolve(receiver);
        Files.createDirectories(rdir);
        long s = ++seq;
        Path file = rdir.resolve(String.format("%019d-%s.%s.json", s, id, resolved ? "r" : "f"));
        byte[] data = encode(id, receiver, 0, Instant.now(), body);
        Entry e = new Entry(file, receiver, s, id, 0, Instant.now(), body, resolved, data.length);
        DurableFiles.write(file, data);
        return e;
    }

    /** Records another 4xx answer. */
    Entry attempted(Entry e) throws IOException {
        byte[] data = encode(e.id(), e.receiver(), e.attempts() + 1, e.createdAt(), e.body());
        Entry next = new Entry(e.file(), e.receiver(), e.seq(), e.id(), e.attempts() + 1, e.createdAt(), e.body(),
                e.resolved(), data.length);
        DurableFiles.write(next.file(), data);
        return next;
    }

    void remove(Entry e) throws IOException {
        DurableFiles.delete(e.file());
    }

    /** Deletes an entry given up on (bound, age): no directory sync, a crash at worst drops it again. */
    void discard(Entry e) throws IOException {
        Files.deleteIfExists(e.file());
    }

    /** Deletes everything that waits for receiver (removed from the config); returns how many. */
    int drop(String receiver) throws IOException {
        List<Path> files = files(receiver);
        for (Path f : files) DurableFiles.delete(f);
        return files.size();
    }

    /** The entry with its body, attempts and creation time read from its file. */
    Entry load(Entry e) throws IOException {
        byte[] data = Files.readAllBytes(e.file());
        try {
            JsonObject o = new JsonObject(new String(data, StandardCharsets.UTF_8));
            String body = o.getString("body");
            if (body == null) throw new Corrupt("no body");
            return new Entry(e.file(), e.receiver(), e.seq(), e.id(), o.getInteger("attempts", 0),
                    Instant.parse(o.getString("createdAt")), body, e.resolved(), data.length);
        } catch (DecodeException | ClassCastException | NullPointerException | java.time.DateTimeException ex) {
            throw new Corrupt(ex.getClass().getSimpleName() + ": " + ex.getMessage());
        }
    }

    /** Moves an unreadable file to the quarantine directory; returns where it went. */
    Path quarantine(Entry e, String why) throws IOException {
        Path qdir = quarantine().resolve(e.receiver());
        Files.createDirectories(qdir);
        Path target = qdir.resolve(e.file().getFileName());
        Files.move(e.file(), target, StandardCopyOption.REPLACE_EXISTING);
        LOG.log(System.Logger.Level.ERROR, "outbox file " + e.file() + " is unreadable (" + why + "); moved to " + target);
        return target;
    }

    /** What waits for receiver, oldest first, without bodies: names, sizes and modification times only. */
    List<Entry> pending(String receiver) throws IOException {
        return pending(receiver, Integer.MAX_VALUE).kept();
    }

    /** What pending() keeps, and the files past the bound, for the caller to delete (it may take a while). */
    record Loaded(List<Entry> kept, List<Path> dropped) {}

    /**
     * What waits for receiver, at most max entries: past it the oldest resolved files are
     * given up first, then the oldest firing ones, by name alone (nothing read: a listing of
     * 200,000 costs names only).
     */
    Loaded pending(String receiver, int max) throws IOException {
        List<String> names = names(receiver);
        int excess = names.size() - max;
        boolean[] drop = new boolean[names.size()];
        for (int pass = 0; pass < 2 && excess > 0; pass++) { // resolved first, then firing
            for (int i = 0; i < names.size() && excess > 0; i++) {
                if (drop[i]) continue;
                if (pass == 0 && !names.get(i).endsWith(".r.json")) continue;
                drop[i] = true;
                excess--;
            }
        }
        Path rdir = dir.resolve(receiver);
        List<Entry> out = new ArrayList<>();
        List<Path> dropped = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            Path f = rdir.resolve(names.get(i));
            if (drop[i]) {
                dropped.add(f);
                continue;
            }
            Matcher m = NAME.matcher(names.get(i));
            if (!m.matches()) continue;
            BasicFileAttributes a;
            try {
                a = Files.readAttributes(f, BasicFileAttributes.class);
            } catch (java.nio.file.NoSuchFileException gone) {
                continue;
            }
            out.add(new Entry(f, receiver, Long.parseLong(m.group(1)), m.group(2), 0, a.lastModifiedTime().toInstant(),
                    null, "r".equals(m.group(3)), a.size()));
        }
        return new Loaded(out, dropped);
    }

    /** The outbox file names of receiver, oldest first. */
    private List<String> names(String receiver) throws IOException {
        Path rdir = dir.resolve(receiver);
        List<String> out = new ArrayList<>();
        if (!Files.isDirectory(rdir)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(rdir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (NAME.matcher(n).matches()) out.add(n);
            }
        }
        out.sort(null);
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

    private static long seqOf(String f) {
        Matcher m = NAME.matcher(f);
        return m.matches() ? Long.parseLong(m.group(1)) : 0;
    }

    private static byte[] encode(String id, String receiver, int attempts, Instant createdAt, String body) {
        JsonObject o = new JsonObject()
                .put("id", id)
                .put("receiver", receiver)
                .put("attempts", attempts)
                .put("createdAt", createdAt.toString())
                .put("body", body);
        return o.encode().getBytes(StandardCharsets.UTF_8);
    }
}
