package io.tcpulse.agent.config;

import io.tcpulse.agent.config.JsonTree.Arr;
import io.tcpulse.agent.config.JsonTree.Node;
import io.tcpulse.agent.config.JsonTree.Obj;
import io.tcpulse.agent.config.JsonTree.Scalar;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.schema.CoreSchema;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A YAML config file as the same tree {@link JsonTree} makes of JSON (snakeyaml-engine's
 * composed nodes carry their marks): the same validation, with the same line numbers
 * and messages, runs on both. YAML 1.2 core schema: true/false, null or ~, numbers as in
 * JSON; anything else plain is a string (durations like 5m stay strings).
 */
final class YamlTree {
    private YamlTree() {}

    private static final LoadSettings SETTINGS = LoadSettings.builder()
            .setSchema(new CoreSchema())
            .setLabel("config")
            .setMaxAliasesForCollections(20)
            .build();

    /** Parses text holding one YAML mapping; syntax errors throw with their line. */
    static Obj parse(String text) throws Config.ConfigException {
        Optional<org.snakeyaml.engine.v2.nodes.Node> doc;
        try {
            doc = new Compose(SETTINGS).composeString(text);
        } catch (MarkedYamlEngineException e) {
            int line = e.getProblemMark().or(e::getContextMark).map(m -> m.getLine() + 1).orElse(1);
            throw problem(line, "invalid YAML: " + e.getProblem());
        } catch (YamlEngineException e) {
            throw problem(1, "invalid YAML: " + e.getMessage());
        }
        if (doc.isEmpty()) throw problem(1, "the config file is empty: it must hold one YAML mapping");
        Node root = read(doc.get(), "");
        if (!(root instanceof Obj o)) {
            throw problem(root.line(), "the config file must hold one YAML mapping (key: value lines), got " + JsonTree.shown(root));
        }
        return o;
    }

    private static Config.ConfigException problem(int line, String message) {
        return new Config.ConfigException(List.of("line " + line + ": " + message));
    }

    private static int line(org.snakeyaml.engine.v2.nodes.Node n) {
        return n.getStartMark().map(Mark::getLine).orElse(0) + 1;
    }

    private static Node read(org.snakeyaml.engine.v2.nodes.Node n, String path) throws Config.ConfigException {
        int line = line(n);
        if (n instanceof MappingNode m) {
            Map<String, Node> fields = new LinkedHashMap<>();
            Map<String, Integer> keyLines = new LinkedHashMap<>();
            for (NodeTuple t : m.getValue()) {
                if (!(t.getKeyNode() instanceof ScalarNode k)) {
                    throw problem(line(t.getKeyNode()), "keys must be plain names" + (path.isEmpty() ? "" : " in " + path));
                }
                String key = k.getValue();
                int keyLine = line(k);
                String child = path.isEmpty() ? key : path + "." + key;
                if (fields.containsKey(key)) {
                    throw problem(keyLine, "duplicate key " + child + " (first set on line " + keyLines.get(key) + ")");
                }
                keyLines.put(key, keyLine);
                fields.put(key, read(t.getValueNode(), child));
            }
            return new Obj(line, path, fields, keyLines);
        }
        if (n instanceof SequenceNode s) {
            List<Node> items = new ArrayList<>();
            for (org.snakeyaml.engine.v2.nodes.Node item : s.getValue()) items.add(read(item, path + "[" + items.size() + "]"));
            return new Arr(line, path, items);
        }
        ScalarNode s = (ScalarNode) n;
        String text = s.getValue();
        Tag tag = s.getTag();
        try {
            if (Tag.BOOL.equals(tag)) return new Scalar(line, path, Boolean.parseBoolean(text.toLowerCase(java.util.Locale.ROOT)), text);
            if (Tag.NULL.equals(tag)) return new Scalar(line, path, null, "null");
            if (Tag.INT.equals(tag)) {
                BigDecimal v = new BigDecimal(text.replace("+", ""));
                Object value = v.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) <= 0 && v.compareTo(BigDecimal.valueOf(Long.MIN_VALUE)) >= 0
                        ? (Object) v.longValueExact() : v;
                return new Scalar(line, path, value, text);
            }
            if (Tag.FLOAT.equals(tag)) return new Scalar(line, path, new BigDecimal(text.replace("+", "")), text);
        } catch (NumberFormatException | ArithmeticException e) {
            // 0x1F, 0o17, .inf, .nan: no setting takes them; kept as text, refused by the key's own rule
        }
        return new Scalar(line, path, text, JsonTree.quote(text));
    }
}
