package io.tcpulse.agent.check;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * Just enough of the kernel's BTF (/sys/kernel/btf/vmlinux) to answer "does this
 * kernel have tracepoint X" (a typedef btf_trace_X, what tp_btf attaches to) and "does
 * enum value Y exist" without libbpf. Format: include/uapi/linux/btf.h.
 */
final class Btf {
    private static final int MAGIC = 0xeB9F;
    private static final int KIND_TYPEDEF = 8, KIND_ENUM = 6, KIND_ENUM64 = 19;

    final Set<String> typedefs = new HashSet<>();
    final Set<String> enumValues = new HashSet<>();

    static Btf read(Path file) throws IOException {
        return parse(Files.readAllBytes(file));
    }

    static Btf parse(byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 24) throw new IOException("BTF too short: " + bytes.length + " bytes");
        if ((b.getShort(0) & 0xffff) != MAGIC) {
            b.order(ByteOrder.BIG_ENDIAN);
            if ((b.getShort(0) & 0xffff) != MAGIC) throw new IOException("not BTF: bad magic");
        }
        int hdrLen = b.getInt(4), typeOff = b.getInt(8), typeLen = b.getInt(12), strOff = b.getInt(16), strLen = b.getInt(20);
        int types = hdrLen + typeOff, strings = hdrLen + strOff;
        if (types < 0 || strings < 0 || (long) types + typeLen > bytes.length || (long) strings + strLen > bytes.length) {
            throw new IOException("BTF sections out of bounds");
        }
        Btf btf = new Btf();
        int at = types, end = types + typeLen;
        while (at + 12 <= end) {
            int nameOff = b.getInt(at), info = b.getInt(at + 4);
            int vlen = info & 0xffff, kind = (info >>> 24) & 0x1f;
            at += 12;
            switch (kind) {
                case KIND_TYPEDEF -> btf.typedefs.add(string(bytes, strings, strLen, nameOff));
                case KIND_ENUM, KIND_ENUM64 -> {
                    int stride = kind == KIND_ENUM ? 8 : 12;
                    for (int i = 0; i < vlen && at + (i + 1) * stride <= end; i++) {
                        btf.enumValues.add(string(bytes, strings, strLen, b.getInt(at + i * stride)));
                    }
                }
                default -> { }
            }
            int extra = extraBytes(kind, vlen);
            if (extra < 0) throw new IOException("unknown BTF kind " + kind + ": kernel newer than this check");
            at += extra;
        }
        return btf;
    }

    /** Bytes that follow struct btf_type for each kind. */
    private static int extraBytes(int kind, int vlen) {
        return switch (kind) {
            case 1, 14, 17 -> 4;                 // INT, VAR, DECL_TAG
            case 2, 7, 8, 9, 10, 11, 12, 16, 18 -> 0;
            case 3 -> 12;                        // ARRAY
            case 4, 5, 15, 19 -> 12 * vlen;      // STRUCT, UNION, DATASEC, ENUM64
            case 6, 13 -> 8 * vlen;              // ENUM, FUNC_PROTO
            default -> -1;
        };
    }

    private static String string(byte[] bytes, int strings, int strLen, int off) {
        if (off < 0 || off >= strLen) return "";
        int from = strings + off, to = from;
        while (to < strings + strLen && bytes[to] != 0) to++;
        return new String(bytes, from, to - from, StandardCharsets.UTF_8);
    }

    boolean hasTracepoint(String name) {
        return typedefs.contains("btf_trace_" + name);
    }
}
