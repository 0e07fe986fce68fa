package io.tcpulse.agent.alert;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * STATE_DIR/alerts.json: the firing alerts and the recently resolved ones, rewritten
 * (fsync, atomic rename) whenever one is announced or resolved, so that after a restart
 * firing alerts carry on without being announced again as new.
 */
final class AlertStore implements AlertEngine.StateStore {
    private static final System.Logger LOG = System.getLogger(AlertStore.class.getName());
    static final int VERSION = 1;

    record Loaded(List<AlertEngine.AlertView> firing, List<AlertEngine.AlertView> recent) {}

    private final Path file;

    AlertStore(Path file) {
        this.file = file;
    }

    Path file() { return file; }

    @Override
    public void save(List<AlertEngine.AlertView> firing, List<AlertEngine.AlertView> recent) throws IOException {
        JsonArray f = new JsonArray(), r = new JsonArray();
        firing.forEach(a -> f.add(encode(a)));
        recent.forEach(a -> r.add(encode(a)));
        JsonObject o = new JsonObject().put("version", VERSION).put("firing", f).put("recent", r);
        DurableFiles.write(file, o.encodePrettily().getBytes(StandardCharsets.UTF_8));
    }

    /** What the last run saved; nothing when there is no file; a damaged file is set aside. */
    Loaded load() throws IOException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return new Loaded(List.of(), List.of());
        }
        try {
            JsonObject o = new JsonObject(text);
            if (o.getInteger("version", 0) != VERSION) throw new IllegalArgumentException("version " + o.getValue("version"));
            return new Loaded(decode(o.getJsonArray("firing", new JsonArray())), decode(o.getJsonArray("recent", new JsonArray())));
        } catch (RuntimeException e) {
            Path bad = file.resolveSibling(file.getFileName() + ".bad");
            LOG.log(System.Logger.Level.ERROR, "alert state " + file + " is unreadable (" + e + "); moved to " + bad
                    + ": firing alerts will be announced again");
            Files.move(file, bad, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            return new Loaded(List.of(), List.of());
        }
    }

    static JsonObject encode(AlertEngine.AlertView a) {
        return new JsonObject()
                .put("rule", a.rule())
                .put("state", a.state().name())
                .put("identity", map(a.identity()))
                .put("labels", map(a.labels()))
                .put("annotations", map(a.annotations()))
                .put("value", Double.isFinite(a.value()) ? a.value() : null)
                .put("since", time(a.since()))
                .put("firedAt", time(a.firedAt()))
                .put("lastNotified", time(a.lastNotified()))
                .put("resolvedAt", time(a.resolvedAt()))
                .put("fingerprint", a.fingerprint());
    }

    private static List<AlertEngine.AlertView> decode(JsonArray a) {
        List<AlertEngine.AlertView> out = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            JsonObject o = a.getJsonObject(i);
            Number v = o.getNumber("value");
            out.add(new AlertEngine.AlertView(o.getString("rule"), AlertEngine.State.valueOf(o.getString("state")),
                    sorted(o.getJsonObject("identity")), sorted(o.getJsonObject("labels")),
                    new LinkedHashMap<>(strings(o.getJsonObject("annotations"))), v == null ? Double.NaN : v.doubleValue(),
                    instant(o.getString("since")), instant(o.getString("firedAt")), instant(o.getString("lastNotified")),
                    instant(o.getString("resolvedAt")), o.getString("fingerprint")));
        }
        return out;
    }

    private static JsonObject map(Map<String, String> m) {
        JsonObject o = new JsonObject();
        if (m != null) m.forEach(o::put);
        return o;
    }

    private static Map<String, String> strings(JsonObject o) {
        Map<String, String> m = new LinkedHashMap<>();
        if (o != null) o.forEach(e -> m.put(e.getKey(), String.valueOf(e.getValue())));
        return m;
    }

    private static SortedMap<String, String> sorted(JsonObject o) {
        return new TreeMap<>(strings(o));
    }

    private static String time(Instant t) {
        return t == null ? null : t.toString();
    }

    private static Instant instant(String s) {
        return s == null ? null : Instant.parse(s);
    }
}
